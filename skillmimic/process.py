"""What a ``skillmimic`` process sets in its own environment before torch and MuJoCo load. The
command (``cli.main``), the benchmark scripts and the test suite call ``configure_process`` first;
importing the package changes nothing.

- Offscreen rendering needs a GL backend chosen before MuJoCo is first imported; without a display,
  EGL is the one that works on headless machines (CPU or GPU).
- torch's OpenMP pool (libgomp) spins at the end of each parallel region waiting for more work.
  When another process holds a core of a small machine, those spinning threads and the descheduled
  ones they wait for make a PPO update 20-30x slower (benchmarks/README.md); waiting passively costs
  nothing measurable. libgomp reads its settings once, when torch is imported, so this only works
  before that; set OMP_WAIT_POLICY or GOMP_SPINCOUNT to choose.
"""

from __future__ import annotations

import os
import sys


def configure_process() -> None:
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("MUJOCO_GL", "egl")
    spin_set = "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ
    if not spin_set and "torch" not in sys.modules:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
