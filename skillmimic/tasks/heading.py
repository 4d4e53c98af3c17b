"""Heading: dribble the ball to a goal on the floor 2-8 m away, in any direction.

Reward per control step exp(-|ball - (goal, 1.0 m)|); success (latched): the ball within 0.5 m
of that point, as upstream's test. Skills: dribble right, forward, left.
"""

from __future__ import annotations

import torch

from skillmimic.tasks.common import TaskState, cleared, goal_around, local_target

NAME = "heading"
SKILLS = (12, 13, 11)
OBS_SIZE = 4
BALL_HEIGHT = 1.0


def sample(s: TaskState, gen: torch.Generator) -> dict[str, torch.Tensor]:
    return {"goal": goal_around(s.root_pos, 2.0, 8.0, gen), "success": cleared(len(s.root_pos), s.root_pos.device)}


def target(t: dict) -> torch.Tensor:
    """[N, 3] where the ball should be."""
    g = t["goal"]
    return torch.cat((g, torch.full_like(g[:, :1], BALL_HEIGHT)), dim=1)


def observe(s: TaskState, t: dict) -> torch.Tensor:
    return local_target(s.root_pos, s.root_rot, t["goal"])


def reward(s: TaskState, t: dict) -> torch.Tensor:
    return torch.exp(-(s.ball_pos - target(t)).norm(dim=1))


def advance(s: TaskState, t: dict) -> dict:
    return {**t, "success": t["success"] | ((s.ball_pos - target(t)).norm(dim=1) < 0.5)}
