"""Checkpoints: written atomically, and carrying what is needed to use them without other flags.

They hold only tensors and plain data (dict, list, tuple, str, int, float, bool, None) and are read
with ``torch.load(weights_only=True)``: loading a checkpoint never runs code from the file.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import torch

from skillmimic.errors import SkillMimicError
from skillmimic.storage import atomic_save, plain  # noqa: F401 (re-exported: checkpoints are written with them)

FORMAT = "skillmimic-policy-1"

# numpy scalars (rl-games kept its best reward as a numpy.float32 before ``plain`` was applied at
# save time) rebuild from a dtype and raw bytes: data, not code. Nothing else beyond torch's
# weights-only set is allowed.
_NUMPY_SCALAR = [np.dtype, type(np.dtype("float32")), np.float32(0).__reduce__()[0]]


def load_checkpoint(path: str | Path) -> dict:
    """Load a SkillMimic checkpoint; a missing, corrupt or foreign file is a one-line error."""
    path = Path(path)
    if not path.is_file():
        raise SkillMimicError(f"checkpoint not found: {path}")
    try:
        with torch.serialization.safe_globals(_NUMPY_SCALAR), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "Detected pickle protocol 4": the error says enough
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        msg = str(e)
        if "Weights only load failed" in msg and "Unsupported operand" not in msg:
            found = re.search(r"GLOBAL ([\w.]+)", msg)
            raise SkillMimicError(
                f"{path}: refusing to load: it holds Python objects beyond tensors and plain data "
                f"(unsafe pickle{': ' + found.group(1) if found else ''})"
            ) from None
        operand = re.search(r"Unsupported operand \d+", msg)
        first = (
            operand.group(0)
            if operand
            else next((ln.strip() for ln in msg.splitlines() if ln.strip()), type(e).__name__)
        )
        raise SkillMimicError(f"{path}: cannot read checkpoint (truncated or corrupt?): {first[:160]}") from None
    meta = state.get("skillmimic") if isinstance(state, dict) else None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise SkillMimicError(f"{path}: not a SkillMimic policy checkpoint (no '{FORMAT}' metadata)")
    return state
