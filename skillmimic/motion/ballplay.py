"""Reader for BallPlay ``.pt`` clips: one float tensor ``[T, 337]`` per file, 60 fps, z-up.

Columns (0-based, half-open): root position 0:3, root rotation as a rotation vector 3:6 (6:9 is
a duplicate), 52 joint rotation vectors 9:165, 53 recorded body positions 165:324, ball
position 324:327, ball rotation vector 327:330, unused 330:336, ball-hand contact flag 336.

Each joint's rotation vector is converted to the three serial hinge angles (x, then y, then z)
of our humanoid that produce the same rotation (upstream fed the raw values to the hinges).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from skillmimic import rotations as rot
from skillmimic.errors import SkillMimicError
from skillmimic.humanoid import NUM_BODIES, NUM_JOINTS
from skillmimic.motion.clip import Clip
from skillmimic.skills import skill_id_from_filename, skill_name

WIDTH = 337
FPS = 60.0
MIN_FRAMES = 4  # a start frame, one step and room for central differences

_COLUMNS = {  # name -> (start, stop), used for validation messages
    "root position": (0, 3),
    "root rotation": (3, 9),
    "joint rotations": (9, 165),
    "body positions": (165, 324),
    "ball position": (324, 327),
    "ball rotation": (327, 330),
    "unused": (330, 336),
    "contact flag": (336, 337),
}


MAX_VALUE = 1e4  # no position (m), angle (rad) or flag of a capture is larger: a bigger one is corrupt


def read_ballplay(path: str | Path, skill: int | None = None) -> Clip:
    """Load and validate one BallPlay clip; every problem is a one-line ``SkillMimicError``.

    ``skill`` overrides the label taken from the file name's first three characters.
    """
    path = Path(path)
    if not path.is_file():
        raise SkillMimicError(f"motion file not found: {path}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for truncated or foreign files
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise SkillMimicError(
            f"{path}: cannot read as a torch tensor file (truncated or corrupt?): {reason[:160]}"
        ) from None
    if not isinstance(data, torch.Tensor):
        raise SkillMimicError(f"{path}: expected a tensor of shape [T, {WIDTH}], found a {type(data).__name__}")
    if data.ndim != 2 or data.shape[1] != WIDTH:
        hint = " (the ParaHome layout [T, 409] is not supported)" if data.ndim == 2 and data.shape[1] == 409 else ""
        raise SkillMimicError(
            f"{path}: expected a BallPlay tensor of shape [T, {WIDTH}], found {list(data.shape)}{hint}"
        )
    if not data.is_floating_point():
        raise SkillMimicError(f"{path}: expected floating-point values, found {data.dtype}")
    if data.shape[0] < MIN_FRAMES:
        raise SkillMimicError(f"{path}: has {data.shape[0]} frames, need at least {MIN_FRAMES}")
    data = data.to(torch.float64)
    bad = ~torch.isfinite(data)
    if bad.any():
        frame, col = (int(i) for i in bad.nonzero()[0])
        part = next(k for k, (a, b) in _COLUMNS.items() if a <= col < b)
        raise SkillMimicError(f"{path}: frame {frame} has a non-finite value in column {col} ({part})")
    bad = data.abs() > MAX_VALUE
    if bad.any():
        frame, col = (int(i) for i in bad.nonzero()[0])
        part = next(k for k, (a, b) in _COLUMNS.items() if a <= col < b)
        raise SkillMimicError(
            f"{path}: frame {frame} column {col} ({part}) is {float(data[frame, col]):.3g}, "
            f"beyond +-{MAX_VALUE:g} (metres, radians, contact flags)"
        )
    # A row of zeros is a missing frame (masked capture, SkillMimic-V2's noisy-data sets): it is
    # kept as a frame marked invalid and filled with the nearest earlier valid frame (the first
    # valid one before it), so every derived quantity stays finite.
    valid = data.abs().sum(dim=1) != 0
    if not valid.any():
        raise SkillMimicError(f"{path}: every frame is all zeros (a fully masked clip has no motion)")
    if not valid.all():
        data = data[_hold_index(valid)]

    sid = skill if skill is not None else skill_id_from_filename(path.stem)
    if sid is None:
        raise SkillMimicError(
            f"{path}: file name does not start with a three-digit skill id; pass the skill explicitly"
        )
    try:
        skill_name(sid)
    except SkillMimicError as e:
        raise SkillMimicError(f"{path}: {e}") from None

    root_rot = rot.sign_continuous(rot.quat_from_rotvec(data[:, 3:6]))
    joint_q = rot.quat_from_rotvec(data[:, 9:165].reshape(-1, NUM_JOINTS, 3))
    dof_pos = _continuous_hinges(rot.hinges_from_quat(joint_q)).reshape(-1, 3 * NUM_JOINTS)
    f32 = torch.float32
    return Clip(
        path=path,
        skill_id=sid,
        fps=FPS,
        root_pos=data[:, 0:3].to(f32),
        root_rot=root_rot.to(f32),
        dof_pos=dof_pos.to(f32),
        body_pos=data[:, 165:324].reshape(-1, NUM_BODIES, 3).to(f32),
        ball_pos=data[:, 324:327].to(f32),
        ball_rot=rot.sign_continuous(rot.quat_from_rotvec(data[:, 327:330])).to(f32),
        contact=data[:, 336].round().clamp(0, 1).to(f32),
        valid=valid,
    )


def _hold_index(valid: torch.Tensor) -> torch.Tensor:
    """For each frame, the index of the frame whose values it takes: itself when valid, else the
    last valid frame before it (the first valid frame for a leading gap)."""
    idx = torch.where(valid, torch.arange(len(valid)), torch.zeros_like(valid, dtype=torch.long))
    held = torch.cummax(idx, dim=0).values
    first = int(valid.nonzero()[0])
    return torch.where(held == 0, first, held) if not bool(valid[0]) else held


def _continuous_hinges(hinges: torch.Tensor) -> torch.Tensor:
    """Pick, per frame and joint, the x-y-z angle triple closest to the previous frame's.

    A rotation has two triples, (a, b, c) and (a + pi, pi - b, c + pi). ``hinges_from_quat``
    keeps |b| <= pi/2, so a joint swinging through b = pi/2 would jump by pi in a and c;
    following the motion's own branch removes those jumps (and their velocity spikes).
    """
    h = hinges.numpy()
    alt = np.stack((h[..., 0] + np.pi, np.pi - h[..., 1], h[..., 2] + np.pi), axis=-1)
    alt = np.remainder(alt + np.pi, 2 * np.pi) - np.pi
    out = h.copy()
    for t in range(1, len(h)):
        d_main = np.abs(np.remainder(h[t] - out[t - 1] + np.pi, 2 * np.pi) - np.pi).sum(-1)
        d_alt = np.abs(np.remainder(alt[t] - out[t - 1] + np.pi, 2 * np.pi) - np.pi).sum(-1)
        out[t] = np.where((d_alt < d_main)[:, None], alt[t], h[t])
    return torch.from_numpy(out)
