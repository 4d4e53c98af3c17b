from skillmimic.cli import main

raise SystemExit(main())
