"""Throwing: get the ball as high as 2.5 m (turnaround layup, pick up, run).

Reward per control step exp(-|ball_z - 2.5|); success (latched): the ball reaches 2.5 m. No task
observation (upstream).
"""

from __future__ import annotations

import torch

from skillmimic.tasks.common import TaskState, cleared

NAME = "throwing"
SKILLS = (34, 1, 13)
OBS_SIZE = 0
HEIGHT = 2.5


def sample(s: TaskState, gen: torch.Generator) -> dict[str, torch.Tensor]:
    return {"success": cleared(len(s.root_pos), s.root_pos.device)}


def observe(s: TaskState, t: dict) -> torch.Tensor:
    return s.root_pos.new_zeros(len(s.root_pos), 0)


def reward(s: TaskState, t: dict) -> torch.Tensor:
    return torch.exp(-(s.ball_pos[:, 2] - HEIGHT).abs())


def advance(s: TaskState, t: dict) -> dict:
    return {**t, "success": t["success"] | (s.ball_pos[:, 2] >= HEIGHT)}
