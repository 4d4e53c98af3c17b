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
        """Finite-difference velocities (central inside, one-sided at the ends), world frame.

        Hinge angles are unwrapped first so a jump across +-pi is not read as a fast spin.
        """
        dt = 1.0 / self.fps
        return {
            "root_vel": _diff(self.root_pos) / dt,
            "root_ang_vel": _angular_velocity(self.root_rot, dt),
            "dof_vel": _diff(_unwrap(self.dof_pos)) / dt,
            "ball_vel": _diff(self.ball_pos) / dt,
            "ball_ang_vel": _angular_velocity(self.ball_rot, dt),
        }


def _diff(x: torch.Tensor) -> torch.Tensor:
    """Per-frame derivative times dt: central differences, one-sided at both ends."""
    d = torch.empty_like(x)
    d[1:-1] = 0.5 * (x[2:] - x[:-2])
    d[0] = x[1] - x[0]
    d[-1] = x[-1] - x[-2]
    return d


def _unwrap(a: torch.Tensor) -> torch.Tensor:
    step = rot.wrap_angle(a[1:] - a[:-1])
    return torch.cat((a[:1], a[:1] + torch.cumsum(step, dim=0)))


def _angular_velocity(q: torch.Tensor, dt: float) -> torch.Tensor:
    """World-frame angular velocity of a quaternion track: log(q_next * q_prev^-1) / (2 dt)."""
    w = torch.empty(q.shape[:-1] + (3,), dtype=q.dtype)
    w[1:-1] = rot.quat_to_rotvec(rot.quat_mul(q[2:], rot.quat_conj(q[:-2]))) / (2 * dt)
    w[0] = rot.quat_to_rotvec(rot.quat_mul(q[1], rot.quat_conj(q[0]))) / dt
    w[-1] = rot.quat_to_rotvec(rot.quat_mul(q[-1], rot.quat_conj(q[-2]))) / dt
    return w
