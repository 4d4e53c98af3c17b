"""Exported policies: a training checkpoint cut down to what acting needs.

A training checkpoint holds the actor, the critic, both normalisers, Adam's moments and the sampler
state. ``play`` and ``eval`` only need the actor, the observation normaliser and the metadata
(config, observation layout, skills, clips); that is what an exported file keeps, optionally with
fp16 weights (turned back into float32 when loaded). The normaliser stays in full precision: its
sample count overflows fp16. The metadata gains ``exported: true`` and the source checkpoint's
epoch and frame.

``resumable=True`` writes the compact resumable file of a training campaign instead: actor,
critic, both normalisers, the sampler state and the metadata (finger table, history encoder),
every network weight in fp16 (normalisers in fp32), ~7 MB for the upstream network where a
training checkpoint takes ~41 MB. Adam's moments are left out (two more copies of every weight, in
fp32): ``train --resume-from FILE --run NAME`` continues from it with a fresh optimizer, whose
moments rebuild within its first updates. ``play`` and ``eval`` take it like any exported policy.
"""

from __future__ import annotations

from pathlib import Path

from skillmimic.errors import SkillMimicError
from skillmimic.policy.checkpoint import (
    COMPILED_PREFIX,
    CONTROLLER_KIND,
    NORMALISERS,
    atomic_save,
    is_critic,
    load_checkpoint,
)


def export_policy(checkpoint: str | Path, out: str | Path, half: bool = False, resumable: bool = False) -> dict:
    """Write the policy-only file ``out`` (atomically) from training checkpoint ``checkpoint``, or
    with ``resumable`` the compact resumable file (fp16, critic and sampler state kept); returns a
    summary (sizes, source epoch and frame)."""
    half = half or resumable
    checkpoint, out = Path(checkpoint), Path(out)
    state = load_checkpoint(checkpoint)
    meta = dict(state["skillmimic"])
    if meta.get("exported"):
        raise SkillMimicError(f"{checkpoint}: already an exported policy; export from a training checkpoint")
    if meta.get("kind") == CONTROLLER_KIND and resumable:
        raise SkillMimicError(f"{checkpoint}: --resumable is for skill policies; resume a controller with --resume")
    if out.exists() and out.resolve() == checkpoint.resolve():
        raise SkillMimicError(f"{out}: would overwrite the checkpoint it is exported from; choose another --out")
    model = {}
    for key, value in state["model"].items():
        key = key.removeprefix(COMPILED_PREFIX)
        if is_critic(key) and not resumable:
            continue
        if half and value.is_floating_point() and not key.startswith(NORMALISERS):
            value = value.half()
        model[key] = value.detach().cpu()
    epoch, frame = int(state.get("epoch", 0)), int(state.get("frame", 0))
    meta.update(
        exported=True,
        half=bool(half),
        resumable=bool(resumable),
        source=dict(checkpoint=checkpoint.name, epoch=epoch, frame=frame),
    )
    state_out = {"model": model, "epoch": epoch, "frame": frame, "skillmimic": meta}
    if resumable:
        state_out["env_state"] = state.get("env_state")  # where episodes start (adaptive sampling's record)
    atomic_save(state_out, out)
    return dict(
        path=str(out),
        bytes=out.stat().st_size,
        source_bytes=checkpoint.stat().st_size,
        parameters=sum(v.numel() for v in model.values()),
        epoch=epoch,
        frame=frame,
        half=bool(half),
        resumable=bool(resumable),
    )
