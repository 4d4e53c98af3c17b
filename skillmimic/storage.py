"""Files of tensors and plain data: written atomically, read without running code.

Checkpoints, trajectory graphs and history encoders all hold only tensors and plain data (dict,
list, tuple, str, int, float, bool, None): ``torch.load(weights_only=True)`` reads them back and
never executes anything from the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from skillmimic.errors import SkillMimicError


def plain(obj, where: str = "state"):
    """``obj`` with numpy scalars/arrays turned into Python numbers/tensors, checked to hold only
    tensors and plain data (what ``torch.load(weights_only=True)`` reads back)."""
    if obj is None or isinstance(obj, (str, bool, int, float, torch.Tensor)):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(obj.copy())
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, dict):
        return {k: plain(v, f"{where}[{k!r}]") for k, v in obj.items()}
    if isinstance(obj, list) or type(obj) is tuple:
        return type(obj)(plain(v, f"{where}[{i}]") for i, v in enumerate(obj))
    raise TypeError(f"{where}: {type(obj).__name__} cannot be saved in a checkpoint (tensors and plain data only)")


def atomic_save(state: dict, path: str | Path) -> None:
    """Write to a temporary file in the same folder, flush it to disk, then rename over ``path``:
    a crash leaves either the old checkpoint or the new one, never a torn file. ``state`` goes
    through ``plain`` first, so what is written always loads with ``weights_only=True``."""
    state = plain(state)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_plain(path: str | Path, what: str) -> object:
    """Read a file written by ``atomic_save``; a missing or unreadable file is a one-line error
    naming ``what`` it should have been (e.g. "trajectory graph")."""
    path = Path(path)
    if not path.is_file():
        raise SkillMimicError(f"{what} file not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for foreign or truncated files
        raise SkillMimicError(f"{path}: cannot read as a {what} file: {type(e).__name__}") from None
