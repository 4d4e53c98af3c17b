"""SkillMimic: learn human-object interaction skills from motion capture in physics simulation."""

import os as _os
import sys as _sys

# Offscreen rendering needs a GL backend chosen before MuJoCo is first imported; without a
# display, EGL is the one that works on headless machines (CPU or GPU).
if not _os.environ.get("DISPLAY"):
    _os.environ.setdefault("MUJOCO_GL", "egl")

# torch's OpenMP pool (libgomp) spins at the end of each parallel region waiting for more work.
# When another process holds a core of a small machine, those spinning threads and the
# descheduled ones they wait for make a PPO update 20-30x slower (benchmarks/README.md); waiting
# passively costs nothing measurable. libgomp reads its settings once, when torch is imported, so
# this only works when skillmimic comes first; set OMP_WAIT_POLICY or GOMP_SPINCOUNT to choose.
_TORCH_FIRST = "torch" in _sys.modules
if "OMP_WAIT_POLICY" not in _os.environ and "GOMP_SPINCOUNT" not in _os.environ and not _TORCH_FIRST:
    _os.environ["OMP_WAIT_POLICY"] = "PASSIVE"


def _waits_passively(env) -> bool:
    if "GOMP_SPINCOUNT" in env:
        return env["GOMP_SPINCOUNT"].strip() == "0"
    return env.get("OMP_WAIT_POLICY", "").strip().upper() == "PASSIVE"


OPENMP_WAITS_PASSIVELY = _waits_passively(_os.environ)  # read by skillmimic.threads

__version__ = "0.1.0"
