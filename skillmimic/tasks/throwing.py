"""Throwing: get the ball as high as 2.5 m (turnaround layup, pick up, run).

Reward per control step exp(-|ball_z - 2.5|); success (latched): the ball reaches 2.5 m. No task
observation (upstream).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from skillmimic.skills import skill_id
from skillmimic.tasks.common import Goal, Marker, TaskConfig, TaskState, cleared, point


@dataclass(frozen=True)
class ThrowingConfig(TaskConfig):
    height: float = 2.5  # m: the ball has to get this high


NAME = "throwing"
CONFIG = ThrowingConfig()
SKILLS = tuple(skill_id(n) for n in ("turnaround_layup", "pickup", "dribble_forward"))
OBS_SIZE = 0
MOVABLE = None


def sample(s: TaskState, gen: torch.Generator) -> dict[str, torch.Tensor]:
    return {"success": cleared(len(s.root_pos), s.root_pos.device)}


def observe(s: TaskState, t: dict) -> torch.Tensor:
    return s.root_pos.new_zeros(len(s.root_pos), 0)


def reward(s: TaskState, t: dict) -> torch.Tensor:
    return torch.exp(-(s.ball_pos[:, 2] - CONFIG.height).abs())


def advance(s: TaskState, t: dict) -> dict:
    return {**t, "success": t["success"] | (s.ball_pos[:, 2] >= CONFIG.height)}


def markers(goal: Goal, start_xy) -> list[Marker]:
    """A sphere at the height to reach, above where the character started."""
    return [Marker((float(start_xy[0]), float(start_xy[1]), CONFIG.height), 0.12)]


def focus(goal: Goal, start_xy) -> list[list[float]]:
    return [point(start_xy, CONFIG.height)]
