"""CI runs exactly the README's commands: every command in .ci/run's README sections is in README.md."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_commands():
    readme = (ROOT / "README.md").read_text()
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    commands = [lines[i + 1].strip() for i, line in enumerate(lines) if line.startswith("# README:")]
    assert len(commands) == 3
    for c in commands:
        assert c in readme, f"{c!r} is run by .ci/run but not shown in README.md"
