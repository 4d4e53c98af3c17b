"""What every task module provides, and geometry the tasks share.

A task module (one file in ``skillmimic/tasks/``, found by ``skillmimic.tasks``) has:

- ``NAME``; ``SKILLS``, the control mapping (action index -> skill id, by name from ``skills.py``);
  ``OBS_SIZE``; ``CONFIG``, a ``TaskConfig`` (its thresholds, episode length, controller period);
- four pure functions of a ``TaskState`` batch and the per-env task tensors (a dict): ``sample``
  (new goals for reset envs, with the success flag cleared), ``observe`` (the task observation,
  heading-invariant), ``reward`` (per control step) and ``advance`` (the task tensors after a step:
  latched flags, accumulated angles; ``success`` among them);
- for the viewer and videos, of one world's goal (its row of the task tensors, as numpy) and the
  character's start: ``markers`` (``Marker`` list: what to draw) and ``focus`` (points the camera
  keeps in frame); ``MOVABLE``: the goal tensor the viewer's goal keys move (None: none);
- optionally ``scripted(task_obs) -> actions``: a baseline controller for ``eval --scripted``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from skillmimic import rotations as rot
from skillmimic.envs.task_env import TaskState  # noqa: F401 (what every task function takes)


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


@dataclass(frozen=True)
class TaskConfig:
    """What every task sets. Upstream's high-level controllers act every 3 control steps (20 Hz) over
    800-step (13.3 s) episodes; a task episode ends when the pelvis drops below 0.25 m (upstream's
    HLC tasks; skill training uses 0.3 m, ``EnvConfig.termination_height``)."""

    llc_steps: int = 3
    episode_length: int = 800
    fall_height: float = 0.25


# --- what the viewer draws --------------------------------------------------------------------

# Green: no other part of the scene (tan body, orange ball, blue-grey floor and sky) is green, so a
# person sees the goal at once and a test can find it by colour.
MARKER_RGBA = (0.15, 0.95, 0.25, 1.0)
FAINT_RGBA = (0.15, 0.95, 0.25, 0.35)


@dataclass(frozen=True)
class Marker:
    """A sphere (``end`` None, ``size`` its radius) or a capsule from ``pos`` to ``end`` (``size``
    its radius); drawn without physics."""

    pos: tuple[float, float, float]
    size: float
    end: tuple[float, float, float] | None = None
    rgba: tuple[float, float, float, float] = MARKER_RGBA


def ring(centre_xy, radius: float, z: float, width: float, segments: int, rgba=MARKER_RGBA) -> list[Marker]:
    """A horizontal circle as capsules between ``segments`` points on it."""
    cx, cy = float(centre_xy[0]), float(centre_xy[1])
    pts = [
        (cx + radius * math.cos(2 * math.pi * k / segments), cy + radius * math.sin(2 * math.pi * k / segments), z)
        for k in range(segments + 1)
    ]
    return [Marker(a, width, b, rgba) for a, b in zip(pts[:-1], pts[1:], strict=True)]


def point(xy, z: float) -> list[float]:
    """A camera focus point above a goal's ``xy``."""
    return [float(xy[0]), float(xy[1]), z]


Goal = dict[str, np.ndarray]  # one world's task tensors, as the viewer reads them
