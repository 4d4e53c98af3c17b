"""Checkpoints: written atomically, and carrying what is needed to use them without other flags.

They hold only tensors and plain data (dict, list, tuple, str, int, float, bool, None) and are read
with ``torch.load(weights_only=True)``: loading a checkpoint never runs code from the file.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from skillmimic.errors import SkillMimicError
from skillmimic.storage import atomic_save, plain  # noqa: F401 (re-exported: checkpoints are written with them)

FORMAT = "skillmimic-policy-1"
CONTROLLER_KIND = "high-level controller"  # metadata ``kind`` of a high-level controller's checkpoint
COMPILED_PREFIX = "_orig_mod."  # what torch.compile puts before every parameter name
# state_dict entries of rl-games' separate actor-critic that only the critic uses
CRITIC_PREFIXES = ("a2c_network.critic_mlp.", "a2c_network.value.", "value_mean_std.")
NORMALISERS = ("running_mean_std.", "value_mean_std.")  # sample counts overflow fp16: kept in fp32

# numpy scalars (rl-games kept its best reward as a numpy.float32 before ``plain`` was applied at
# save time) rebuild from a dtype and raw bytes: data, not code. Nothing else beyond torch's
# weights-only set is allowed.
_NUMPY_SCALAR: list[Callable[..., Any] | tuple[Callable[..., Any], str]] = [
    np.dtype,
    type(np.dtype("float32")),
    cast(Callable[..., Any], np.float32(0).__reduce__()[0]),
]


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
    _check_parts(path, state, meta)
    return state


def _check_parts(path: Path, state: dict, meta: dict) -> None:
    """What every reader of a checkpoint relies on, checked once here: a one-line error instead of a
    traceback deep in rl-games, and no NaN weights passed on (to an export, a resumed run)."""
    model = state.get("model")
    if not isinstance(model, dict) or not model or not all(isinstance(v, torch.Tensor) for v in model.values()):
        raise SkillMimicError(f"{path}: its 'model' is not a dict of weight tensors")
    if not isinstance(meta.get("config"), dict):
        raise SkillMimicError(f"{path}: its metadata has no training 'config'")
    for key in ("epoch", "frame"):
        if key in state and (not isinstance(state[key], int) or state[key] < 0):
            raise SkillMimicError(f"{path}: '{key}' is {state[key]!r}, expected a count")
    bad = [k for k, v in model.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise SkillMimicError(f"{path}: weights {', '.join(bad[:3])} hold NaN or infinite values (a diverged run?)")


def is_critic(key: str) -> bool:
    return key.removeprefix(COMPILED_PREFIX).startswith(CRITIC_PREFIXES)


def model_weights(state: dict) -> dict:
    """A checkpoint's network weights as the model's ``load_state_dict`` takes them: without the
    compiled-model prefix, fp16 weights (exported and resumable files) back in float32."""
    return {
        k.removeprefix(COMPILED_PREFIX): v.float() if v.dtype == torch.float16 else v for k, v in state["model"].items()
    }


def is_controller(path: str | Path) -> bool:
    """Whether ``path`` is a high-level controller's checkpoint (else a skill policy's)."""
    return load_checkpoint(path)["skillmimic"].get("kind") == CONTROLLER_KIND
