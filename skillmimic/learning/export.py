"""Exported policies: a training checkpoint cut down to what acting needs.

A training checkpoint holds the actor, the critic, both normalisers, Adam's moments and the sampler
state. ``play`` and ``eval`` only need the actor, the observation normaliser and the metadata
(config, observation layout, skills, clips); that is what an exported file keeps, optionally with
fp16 weights (turned back into float32 when loaded). The normaliser stays in full precision: its
sample count overflows fp16. The metadata gains ``exported: true`` and the source checkpoint's
epoch and frame.
"""

from __future__ import annotations

from pathlib import Path

from skillmimic.errors import SkillMimicError
from skillmimic.learning.checkpoint import atomic_save, load_checkpoint

# state_dict entries of rl-games' separate actor-critic that only the critic uses
CRITIC_PREFIXES = ("a2c_network.critic_mlp.", "a2c_network.value.", "value_mean_std.")
NORMALISER_PREFIX = "running_mean_std."


def is_critic(key: str) -> bool:
    return key.removeprefix("_orig_mod.").startswith(CRITIC_PREFIXES)


def export_policy(checkpoint: str | Path, out: str | Path, half: bool = False) -> dict:
    """Write the policy-only file ``out`` (atomically) from training checkpoint ``checkpoint``;
    returns a summary (sizes, source epoch and frame)."""
    checkpoint, out = Path(checkpoint), Path(out)
    state = load_checkpoint(checkpoint)
    meta = dict(state["skillmimic"])
    if meta.get("exported"):
        raise SkillMimicError(f"{checkpoint}: already an exported policy; export from a training checkpoint")
    if out.exists() and out.resolve() == checkpoint.resolve():
        raise SkillMimicError(f"{out}: would overwrite the checkpoint it is exported from; choose another --out")
    model = {}
    for key, value in state["model"].items():
        key = key.removeprefix("_orig_mod.")
        if is_critic(key):
            continue
        if half and value.is_floating_point() and not key.startswith(NORMALISER_PREFIX):
            value = value.half()
        model[key] = value.detach().cpu()
    epoch, frame = int(state.get("epoch", 0)), int(state.get("frame", 0))
    meta.update(exported=True, half=bool(half), source=dict(checkpoint=checkpoint.name, epoch=epoch, frame=frame))
    atomic_save({"model": model, "epoch": epoch, "frame": frame, "skillmimic": meta}, out)
    return dict(
        path=str(out),
        bytes=out.stat().st_size,
        source_bytes=checkpoint.stat().st_size,
        parameters=sum(v.numel() for v in model.values()),
        epoch=epoch,
        frame=frame,
        half=bool(half),
    )
