"""Heading: dribble the ball to a goal on the floor 2-8 m away, in any direction.

Reward per control step exp(-|ball - (goal, 1.0 m)|); success (latched): the ball within 0.5 m
of that point, as upstream's test. Skills: dribble right, forward, left. ``scripted``: the baseline
a trained controller has to beat.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from skillmimic.skills import skill_id
from skillmimic.tasks.common import (
    FAINT_RGBA,
    Goal,
    Marker,
    TaskConfig,
    TaskState,
    cleared,
    goal_around,
    local_target,
    point,
)


@dataclass(frozen=True)
class HeadingConfig(TaskConfig):
    goal_near: float = 2.0  # m: goals are drawn this far from the start ...
    goal_far: float = 8.0  # ... up to this far
    ball_height: float = 1.0  # m: where over the goal the ball should be
    reach: float = 0.5  # m: success when the ball gets this close to that point
    turn: float = 0.35  # rad: the scripted controller turns when the goal is further off its facing


NAME = "heading"
CONFIG = HeadingConfig()
SKILLS = tuple(skill_id(n) for n in ("dribble_right", "dribble_forward", "dribble_left"))
OBS_SIZE = 4
MOVABLE = "goal"


def sample(s: TaskState, gen: torch.Generator) -> dict[str, torch.Tensor]:
    goal = goal_around(s.root_pos, CONFIG.goal_near, CONFIG.goal_far, gen)
    return {"goal": goal, "success": cleared(len(s.root_pos), s.root_pos.device)}


def target(t: dict) -> torch.Tensor:
    """[N, 3] where the ball should be."""
    g = t["goal"]
    return torch.cat((g, torch.full_like(g[:, :1], CONFIG.ball_height)), dim=1)


def observe(s: TaskState, t: dict) -> torch.Tensor:
    return local_target(s.root_pos, s.root_rot, t["goal"])


def reward(s: TaskState, t: dict) -> torch.Tensor:
    return torch.exp(-(s.ball_pos - target(t)).norm(dim=1))


def advance(s: TaskState, t: dict) -> dict:
    return {**t, "success": t["success"] | ((s.ball_pos - target(t)).norm(dim=1) < CONFIG.reach)}


def scripted(task_obs: torch.Tensor) -> torch.Tensor:
    """Dribble right / forward / left (action 0 / 1 / 2) from the goal's bearing: left of the facing
    by more than ``turn``: left; right of it: right; else forward."""
    bearing = torch.atan2(task_obs[:, 3], task_obs[:, 2])
    return torch.where(bearing > CONFIG.turn, 2, torch.where(bearing < -CONFIG.turn, 0, 1))


def markers(goal: Goal, start_xy) -> list[Marker]:
    """A ball-sized sphere where the ball should be, on a faint post from the floor."""
    x, y = (float(v) for v in goal["goal"])
    h = CONFIG.ball_height
    return [Marker((x, y, h), 0.15), Marker((x, y, 0.0), 0.02, (x, y, h), FAINT_RGBA)]


def focus(goal: Goal, start_xy) -> list[list[float]]:
    return [point(goal["goal"], CONFIG.ball_height)]
