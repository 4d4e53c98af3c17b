"""SkillMimic: learn human-object interaction skills from motion capture in physics simulation."""
import os as _os

# Offscreen rendering needs a GL backend chosen before MuJoCo is first imported; without a
# display, EGL is the one that works on headless machines (CPU or GPU).
if not _os.environ.get("DISPLAY"):
    _os.environ.setdefault("MUJOCO_GL", "egl")

__version__ = "0.1.0"
