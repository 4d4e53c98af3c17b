"""The in-memory clip: one human-ball motion at a fixed frame rate, in our humanoid's terms."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from skillmimic import rotations as rot
from skillmimic.skills import skill_name


@dataclass
class Clip:
    """Per-frame tensors (float32, CPU) of one clip; T frames at ``fps``.

    Rotations are (w, x, y, z) quaternions in the z-up world; ``dof_pos`` holds the 156 hinge
    angles (x, y, z per joint) of our humanoid; ``body_pos`` is the recorded position of the 53
    bodies as stored in the file (the library recomputes its own by forward kinematics).
    """

    path: Path
    skill_id: int
    fps: float
    root_pos: torch.Tensor  # [T, 3]
    root_rot: torch.Tensor  # [T, 4], sign-continuous
    dof_pos: torch.Tensor  # [T, 156]
    body_pos: torch.Tensor  # [T, 53, 3]
    ball_pos: torch.Tensor  # [T, 3]
    ball_rot: torch.Tensor  # [T, 4]
    contact: torch.Tensor  # [T], 1 where a hand touches the ball
    valid: torch.Tensor | None = None  # [T] bool, False on missing (masked) frames; None: all valid

    def __post_init__(self):
        if self.valid is None:
            self.valid = torch.ones(self.num_frames, dtype=torch.bool)

    @property
    def valid_mask(self) -> torch.Tensor:
        """``valid``, which ``__post_init__`` always sets."""
        assert self.valid is not None
        return self.valid

    @property
    def num_missing(self) -> int:
        return int((~self.valid_mask).sum())

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def skill_name(self) -> str:
        return skill_name(self.skill_id)

    @property
    def num_frames(self) -> int:
        return self.root_pos.shape[0]

    @property
    def seconds(self) -> float:
        return self.num_frames / self.fps

    def velocities(self) -> dict[str, torch.Tensor]:
        """Finite-difference velocities, world frame: the mean of the backward and forward
        differences where both neighbours exist (the central difference), one-sided where only one
        does. A difference never spans a missing frame; a frame with no valid neighbour (or a
        missing frame) gets zero velocity.

        Hinge angles are unwrapped first so a jump across +-pi is not read as a fast spin.
        """
        dt = 1.0 / self.fps
        v = self.valid_mask
        return {
            "root_vel": _diff(self.root_pos, v) / dt,
            "root_ang_vel": _diff(self.root_rot, v, _rotation_step) / dt,
            "dof_vel": _diff(_unwrap(self.dof_pos), v) / dt,
            "ball_vel": _diff(self.ball_pos, v) / dt,
            "ball_ang_vel": _diff(self.ball_rot, v, _rotation_step) / dt,
        }


def _rotation_step(q_next: torch.Tensor, q_prev: torch.Tensor) -> torch.Tensor:
    """World-frame rotation vector from ``q_prev`` to ``q_next``: log(q_next * q_prev^-1)."""
    return rot.quat_to_rotvec(rot.quat_mul(q_next, rot.quat_conj(q_prev)))


def _diff(x: torch.Tensor, valid: torch.Tensor, step=None) -> torch.Tensor:
    """Per-frame derivative times dt from the differences to both neighbours that are valid."""
    step = step or (lambda a, b: a - b)
    ok = valid[1:] & valid[:-1]  # [T-1] the difference between frames t and t+1 is usable
    d = step(x[1:], x[:-1]) * ok.view(-1, *([1] * (x.dim() - 1)))
    zero = torch.zeros_like(d[:1])
    fwd, bwd = torch.cat((d, zero)), torch.cat((zero, d))  # difference to t+1, to t-1
    okf, okb = torch.cat((ok, ok.new_zeros(1))), torch.cat((ok.new_zeros(1), ok))
    count = (okf.to(d.dtype) + okb.to(d.dtype)).clamp_min(1).view(-1, *([1] * (d.dim() - 1)))
    return (fwd + bwd) / count


def _unwrap(a: torch.Tensor) -> torch.Tensor:
    step = rot.wrap_angle(a[1:] - a[:-1])
    return torch.cat((a[:1], a[:1] + torch.cumsum(step, dim=0)))
