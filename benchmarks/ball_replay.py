"""Can a clip's hands hold its ball at all? Replay the reference body exactly, simulate the ball.

For every few frames where the reference labels the ball as held, the humanoid is forced onto
the reference (its joint positions and velocities are written before each physics step, so it
acts like a perfect tracker; within a physics step contacts can still push the light finger
joints back) and only the ball moves freely, from its reference state. Reported per clip: how
many control steps the ball stays within 15 cm of its reference. A ball that falls away within a
few steps even from a perfect body cannot be carried open-loop: the policy has to learn a
closed-loop hold that the reference does not show (``benchmarks/README.md``: every BallPlay-M
clip is such a clip).

    python benchmarks/ball_replay.py ballplay-m --out benchmarks/results/ball-replay-ballplay-m.json
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import mujoco
import numpy as np
import torch

from skillmimic.humanoid import SceneConfig, build_model
from skillmimic.motion.library import MotionLibrary
from skillmimic.sim.base import SimConfig
from skillmimic.sim.state import SimState, state_to_qpos_qvel

LOST = 0.15  # m from the reference ball position
HORIZON = 60  # control steps (1 s)


def clip_states(lib: MotionLibrary, clip: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """qpos [T, 170], qvel [T, 168] and the held flag [T] of every frame of ``clip``."""
    frames = torch.arange(int(lib.lengths[clip]))
    m = lib.get(torch.full_like(frames, clip), frames)
    qpos, qvel = state_to_qpos_qvel(SimState.from_motion(m))
    return qpos.double().numpy(), qvel.double().numpy(), (m.contact > 0).numpy()


def steps_held(model: mujoco.MjModel, qpos: np.ndarray, qvel: np.ndarray, start: int, substeps: int) -> int:
    """Control steps from ``start`` until the free ball is more than ``LOST`` from its reference
    while the body replays the clip exactly (``HORIZON`` if it never is)."""
    nq, nv = model.jnt_qposadr[-1], model.jnt_dofadr[-1]  # the ball's free joint comes last
    data = mujoco.MjData(model)
    data.qpos[:], data.qvel[:] = qpos[start], qvel[start]
    last = len(qpos) - 1
    for t in range(HORIZON):
        a, b = qpos[min(start + t, last)], qpos[min(start + t + 1, last)]
        for k in range(substeps):
            w = (k + 1) / substeps
            body = (1 - w) * a[:nq] + w * b[:nq]
            body[3:7] /= np.linalg.norm(body[3:7])  # root quaternion
            data.qpos[:nq], data.qvel[:nv] = body, qvel[min(start + t + 1, last), :nv]
            mujoco.mj_step(model, data)
        if np.linalg.norm(data.qpos[nq : nq + 3] - b[nq : nq + 3]) > LOST:
            return t + 1
    return HORIZON


def replay(lib: MotionLibrary, every: int = 4, scene: SceneConfig | None = None) -> list[dict]:
    """Per clip: the steps the ball stays with a perfectly replayed body, from every ``every``-th held frame."""
    model = build_model(scene or SceneConfig())
    substeps = SimConfig().substeps
    rows = []
    for c, name in enumerate(lib.names):
        qpos, qvel, held = clip_states(lib, c)
        starts = np.flatnonzero(held)[::every]
        steps = [steps_held(model, qpos, qvel, int(s), substeps) for s in starts]
        rows.append(
            dict(
                clip=name,
                skill=int(lib.skill_ids[c]),
                held_frames=int(held.sum()),
                starts=len(starts),
                median_steps=statistics.median(steps) if steps else None,
                kept_half_second=round(sum(s >= 30 for s in steps) / len(steps), 3) if steps else None,
            )
        )
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("motion", help="a motion file or folder (as `train --motion` takes it)")
    p.add_argument("--every", type=int, default=4, help="use every n-th held frame as a start")
    p.add_argument("--out", help="JSON file for the per-clip rows")
    a = p.parse_args()
    rows = replay(MotionLibrary.load(a.motion), a.every)
    print(f"{'clip':<48} {'skill':>5} {'held':>5} {'starts':>6} {'median':>6} {'>=0.5 s':>8}")
    for r in rows:
        print(
            f"{r['clip']:<48} {r['skill']:>5} {r['held_frames']:>5} {r['starts']:>6} "
            f"{r['median_steps'] if r['median_steps'] is not None else '-':>6} "
            f"{r['kept_half_second'] if r['kept_half_second'] is not None else '-':>8}"
        )
    if a.out:
        Path(a.out).write_text(json.dumps(dict(lost_m=LOST, horizon_steps=HORIZON, clips=rows), indent=1) + "\n")


if __name__ == "__main__":
    main()
