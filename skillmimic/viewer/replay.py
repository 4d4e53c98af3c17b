"""Kinematic playback of reference clips (no physics) to video."""

from __future__ import annotations

from pathlib import Path

import mujoco
from tqdm import tqdm

from skillmimic.humanoid import build_render_model
from skillmimic.motion.library import MotionLibrary
from skillmimic.sim.state import SimState, state_to_qpos_qvel
from skillmimic.viewer.video import OffscreenRenderer, VideoWriter


def clip_rows(lib: MotionLibrary, clips: list[int] | None = None) -> list[int]:
    """Rows of the library's flat frame tensors for ``clips`` (all if None), clip after clip."""
    return [
        r
        for c in (range(lib.num_clips) if clips is None else clips)
        for r in range(int(lib.starts[c]), int(lib.starts[c] + lib.lengths[c]))
    ]


def render_motion(
    lib: MotionLibrary, video: str | Path, width: int = 640, height: int = 480, clips: list[int] | None = None
) -> int:
    """Render the clips of ``lib`` (all, or ``clips``) back to back at the data rate; returns the
    frame count."""
    model = build_render_model()
    data = mujoco.MjData(model)
    qpos_t, _ = state_to_qpos_qvel(SimState.from_motion(lib.frames))
    qpos = qpos_t.double().cpu().numpy()
    renderer = OffscreenRenderer(model, width, height)
    clip_of_frame = lib.frame_clip.cpu().numpy()
    starts = lib.starts.cpu().numpy()
    rows = clip_rows(lib, clips)
    with VideoWriter(video, lib.fps) as out:
        for i in tqdm(rows, desc="render", unit="frame", disable=None):
            data.qpos[:] = qpos[i]
            mujoco.mj_kinematics(model, data)
            c = clip_of_frame[i]
            if i == starts[c]:
                renderer.reset_camera()
            caption = f"{lib.names[c]}  [{lib.skill_names[c]}]  frame {i - starts[c]}  reference"
            out.write(renderer.render(data, caption))
    renderer.close()
    return out.frames
