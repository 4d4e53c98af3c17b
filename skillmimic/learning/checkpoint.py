"""Checkpoints: written atomically, and carrying what is needed to use them without other flags."""
from __future__ import annotations

import os
from pathlib import Path

import torch

from skillmimic.errors import SkillMimicError

FORMAT = "skillmimic-policy-1"


def atomic_save(state: dict, path: str | Path) -> None:
    """Write to a temporary file in the same folder, flush it to disk, then rename over ``path``:
    a crash leaves either the old checkpoint or the new one, never a torn file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_checkpoint(path: str | Path) -> dict:
    """Load a SkillMimic checkpoint; a missing, corrupt or foreign file is a one-line error."""
    path = Path(path)
    if not path.is_file():
        raise SkillMimicError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:
        raise SkillMimicError(f"{path}: cannot read checkpoint (truncated or corrupt?): "
                              f"{str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__}") from None
    meta = state.get("skillmimic") if isinstance(state, dict) else None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise SkillMimicError(f"{path}: not a SkillMimic policy checkpoint (no '{FORMAT}' metadata)")
    return state
