"""``skillmimic export --smplx``: a clip or rollout as SMPL-X parameters plus the ball, in one ``.npz``.

The file holds both common layouts, so the SMPL-X Blender add-on ("Add animation", AMASS format for
``--up z``, SMPL-X format for ``--up y``) and ``smplx``-based viewers read it as is:

- AMASS: ``poses`` ``[T, 165]``, ``trans``, ``betas``, ``gender``, ``mocap_frame_rate`` (60);
- ``smplx.SMPLX`` arguments: ``global_orient``, ``body_pose`` ``[T, 63]``, ``jaw_pose``,
  ``leye_pose``, ``reye_pose``, ``left_hand_pose``/``right_hand_pose`` ``[T, 45]`` (full axis-angle,
  ``flat_hand_mean`` true), ``transl``;
- the ball: ``ball_pos`` ``[T, 3]``, ``ball_rot`` (rotation vectors), ``ball_radius``, ``contact``;
  and ``up`` ("z" or "y"), the world all of them are in.

The body shape is SMPL-X's mean (``betas`` zero), not fitted to our humanoid. SMPL-X places the
pelvis at its rest position plus ``transl``, so the model (``--model-dir``) is needed to write a
``transl`` that puts the pelvis where our root is. ``skillmimic data convert`` reads the file back.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from skillmimic import rotations as rot
from skillmimic.humanoid import BALL_RADIUS
from skillmimic.io import joint_map as jm
from skillmimic.io.smplx_model import load_body
from skillmimic.io.track import Track

NUM_BETAS = 10


def smplx_arrays(track: Track, pelvis_rest: torch.Tensor, up: str = "z") -> dict[str, np.ndarray]:
    """The file's arrays (see the module docstring) for a track and the model's rest pelvis ``[3]``."""
    t = track.num_frames
    back = rot.quat_conj(jm.up_quat(up))  # our z-up world -> the file's
    turn = lambda p: rot.quat_rotate(back.expand(p.shape[:-1] + (4,)), p)  # noqa: E731
    orient = rot.quat_mul(back.expand(t, 4), track.root_rot)
    pose = rot.quat_to_rotvec(jm.smplx_from_ours(orient, track.joints)).numpy()  # [T, 55, 3]
    transl = (turn(track.root_pos) - pelvis_rest).numpy()
    f64 = lambda x: np.ascontiguousarray(x, dtype=np.float64)  # noqa: E731
    return dict(
        poses=f64(pose.reshape(t, 165)),
        trans=f64(transl),
        betas=np.zeros(NUM_BETAS),
        gender=np.array("neutral"),
        mocap_frame_rate=np.array(float(track.fps)),
        surface_model_type=np.array("smplx"),
        global_orient=f64(pose[:, 0]),
        body_pose=f64(pose[:, 1:22].reshape(t, 63)),
        jaw_pose=f64(pose[:, 22]),
        leye_pose=f64(pose[:, 23]),
        reye_pose=f64(pose[:, 24]),
        left_hand_pose=f64(pose[:, 25:40].reshape(t, 45)),
        right_hand_pose=f64(pose[:, 40:55].reshape(t, 45)),
        transl=f64(transl),
        flat_hand_mean=np.array(True),
        up=np.array(up),
        ball_pos=f64(turn(track.ball_pos)),
        ball_rot=f64(rot.quat_to_rotvec(rot.quat_mul(back.expand(t, 4), track.ball_rot))),
        ball_radius=np.array(BALL_RADIUS),
        contact=f64(track.contact),
    )


def export_smplx(track: Track, out: str | Path, model_dir: str | Path, gender: str = "neutral", up: str = "z") -> Path:
    """Write ``track`` as an SMPL-X ``.npz`` (mean shape of the ``gender`` model in ``model_dir``)."""
    body = load_body(model_dir, gender, NUM_BETAS)
    arrays = smplx_arrays(track, body.pelvis_rest(torch.zeros(NUM_BETAS, dtype=torch.float64)), up)
    arrays["gender"] = np.array(gender)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as f:  # a file object: np.savez would append .npz to another suffix
        np.savez(f, **arrays)  # type: ignore[arg-type]  # numpy's stub: a key could be allow_pickle
    return out
