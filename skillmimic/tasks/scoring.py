"""Scoring: shoot or lay up into a hoop 2.5 m above a goal 2-8 m away.

``reached`` latches when the ball, free of any body (no contact), above 2 m, is on a ballistic
path whose landing point at 2 m height is within 0.3 m of the goal (upstream's test; upstream
fell back to the landing point at ground height when the ball could not reach 2 m, we count no
landing then). Reward per control step: v_pen * (exp(-0.5 |ball - hoop|) + reached +
0.2 exp(-|ball_z - 2.5|)), v_pen = 0.1 while the root moves slower than 0.5 m/s. Success:
``reached``. Skills as upstream's control mapping (layup, pick up, rebound, dribble right,
forward, left, layup).
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
    ring,
)


@dataclass(frozen=True)
class ScoringConfig(TaskConfig):
    goal_near: float = 2.0  # m: hoops stand this far from the start ...
    goal_far: float = 8.0  # ... up to this far
    hoop: float = 2.5  # m: the rim's height
    hoop_radius: float = 0.23  # m: a basketball rim (drawn)
    landing_height: float = 2.0  # m: where a free ball's landing point is taken
    landing_reach: float = 0.3  # m: a landing point this close to the goal scores
    slow_root: float = 0.5  # m/s: the reward is cut to 0.1 while the character is slower


NAME = "scoring"
CONFIG = ScoringConfig()
SKILLS = tuple(
    skill_id(n) for n in ("layup", "pickup", "rebound", "dribble_right", "dribble_forward", "dribble_left", "layup")
)
OBS_SIZE = 5
MOVABLE = "goal"
GRAVITY = 9.8


def sample(s: TaskState, gen: torch.Generator) -> dict[str, torch.Tensor]:
    n, dev = len(s.root_pos), s.root_pos.device
    return {"goal": goal_around(s.root_pos, CONFIG.goal_near, CONFIG.goal_far, gen), "success": cleared(n, dev)}


def hoop(t: dict) -> torch.Tensor:
    g = t["goal"]
    return torch.cat((g, torch.full_like(g[:, :1], CONFIG.hoop)), dim=1)


def landing(ball_pos: torch.Tensor, ball_vel: torch.Tensor, height: float = CONFIG.landing_height):
    """Where a free ball comes down through ``height`` (xy [N, 2]) and whether it gets there."""
    disc = ball_vel[:, 2] ** 2 + 2 * GRAVITY * (ball_pos[:, 2] - height)
    ok = disc >= 0
    t = (ball_vel[:, 2] + disc.clamp_min(0).sqrt()) / GRAVITY  # the later crossing: on the way down
    return ball_pos[:, :2] + ball_vel[:, :2] * t.unsqueeze(1), ok & (t >= 0)


def observe(s: TaskState, t: dict) -> torch.Tensor:
    return torch.cat((local_target(s.root_pos, s.root_rot, t["goal"]), t["success"].float().unsqueeze(1)), dim=1)


def reward(s: TaskState, t: dict) -> torch.Tensor:
    slow = s.root_vel.norm(dim=1) < CONFIG.slow_root
    near = torch.exp(-0.5 * (s.ball_pos - hoop(t)).norm(dim=1))
    high = 0.2 * torch.exp(-(s.ball_pos[:, 2] - CONFIG.hoop).abs())
    return torch.where(slow, 0.1, 1.0) * (near + t["success"].float() + high)


def advance(s: TaskState, t: dict) -> dict:
    xy, ok = landing(s.ball_pos, s.ball_vel)
    near = (xy - t["goal"]).norm(dim=1) < CONFIG.landing_reach
    hit = ok & near & (s.ball_pos[:, 2] > CONFIG.landing_height) & ~s.ball_contact
    return {**t, "success": t["success"] | hit}


def markers(goal: Goal, start_xy) -> list[Marker]:
    """The rim at its height, a spot below it, and a post beside the rim so its height reads in
    perspective."""
    x, y = (float(v) for v in goal["goal"])
    px = x + CONFIG.hoop_radius + 0.15
    post = Marker((px, y, 0.0), 0.03, (px, y, CONFIG.hoop), FAINT_RGBA)
    return [*ring((x, y), CONFIG.hoop_radius, CONFIG.hoop, 0.02, 24), Marker((x, y, 0.0), 0.08), post]


def focus(goal: Goal, start_xy) -> list[list[float]]:
    return [point(goal["goal"], CONFIG.hoop)]
