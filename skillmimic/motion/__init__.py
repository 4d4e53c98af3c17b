"""Motion data: clips, readers, the batched motion library, data location and fetching."""

from skillmimic.motion.clip import Clip
from skillmimic.motion.library import MotionLibrary, MotionState

__all__ = ["Clip", "MotionLibrary", "MotionState"]
