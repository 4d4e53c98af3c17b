"""What every task module provides, and geometry the tasks share.

A task module has ``NAME``, ``SKILLS`` (the control mapping: action index -> skill id),
``OBS_SIZE`` and four pure functions of a ``TaskState`` batch and the per-env task tensors
(a dict): ``sample`` (new goals for reset envs, with the success flag cleared), ``observe``
(the task observation, heading-invariant), ``reward`` (per control step) and ``advance`` (the
task tensors after a step: latched flags, accumulated angles; ``success`` among them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from skillmimic import rotations as rot


@dataclass
class TaskState:
    """The simulated quantities tasks read (world frame), [N, ...]."""

    root_pos: torch.Tensor
    root_rot: torch.Tensor
    root_vel: torch.Tensor
    ball_pos: torch.Tensor
    ball_vel: torch.Tensor
    ball_contact: torch.Tensor  # [N] bool: some body touches the ball


def goal_around(root_pos: torch.Tensor, low: float, high: float, gen: torch.Generator) -> torch.Tensor:
    """[N, 2] goals at a distance uniform in [low, high) from each root, in every direction
    (upstream's heading task only drew goals in the +x+y quadrant)."""
    n = root_pos.shape[0]
    d = low + (high - low) * torch.rand(n, generator=gen)
    a = 2 * math.pi * torch.rand(n, generator=gen)
    offset = torch.stack((d * torch.cos(a), d * torch.sin(a)), dim=1).to(root_pos.device)
    return root_pos[:, :2] + offset


def local_target(root_pos: torch.Tensor, root_rot: torch.Tensor, target_xy: torch.Tensor) -> torch.Tensor:
    """[N, 4]: the target ahead of and to the left of the character (m), and cos/sin of its
    bearing from where the character faces (0 straight ahead, positive to the left). Upstream's
    angle was the world-frame bearing, which a heading-free policy cannot use."""
    yaw = rot.heading_angle(root_rot)  # of the root's x-axis: the character's left
    d = target_xy - root_pos[:, :2]
    c, s = torch.cos(yaw), torch.sin(yaw)
    left, ahead = c * d[:, 0] + s * d[:, 1], -(-s * d[:, 0] + c * d[:, 1])
    bearing = torch.atan2(left, ahead)
    return torch.stack((ahead, left, torch.cos(bearing), torch.sin(bearing)), dim=1)


def cleared(n: int, device) -> torch.Tensor:
    return torch.zeros(n, dtype=torch.bool, device=device)
