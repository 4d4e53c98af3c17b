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

import torch

from skillmimic.tasks.common import TaskState, cleared, goal_around, local_target

NAME = "scoring"
SKILLS = (31, 1, 2, 12, 13, 11, 31)
OBS_SIZE = 5
HOOP = 2.5
GRAVITY = 9.8
LANDING_HEIGHT = 2.0


def sample(s: TaskState, gen: torch.Generator) -> dict[str, torch.Tensor]:
    n, dev = len(s.root_pos), s.root_pos.device
    return {"goal": goal_around(s.root_pos, 2.0, 8.0, gen), "success": cleared(n, dev)}


def hoop(t: dict) -> torch.Tensor:
    g = t["goal"]
    return torch.cat((g, torch.full_like(g[:, :1], HOOP)), dim=1)


def landing(ball_pos: torch.Tensor, ball_vel: torch.Tensor, height: float = LANDING_HEIGHT):
    """Where a free ball comes down through ``height`` (xy [N, 2]) and whether it gets there."""
    disc = ball_vel[:, 2] ** 2 + 2 * GRAVITY * (ball_pos[:, 2] - height)
    ok = disc >= 0
    t = (ball_vel[:, 2] + disc.clamp_min(0).sqrt()) / GRAVITY  # the later crossing: on the way down
    return ball_pos[:, :2] + ball_vel[:, :2] * t.unsqueeze(1), ok & (t >= 0)


def observe(s: TaskState, t: dict) -> torch.Tensor:
    return torch.cat((local_target(s.root_pos, s.root_rot, t["goal"]), t["success"].float().unsqueeze(1)), dim=1)


def reward(s: TaskState, t: dict) -> torch.Tensor:
    slow = s.root_vel.norm(dim=1) < 0.5
    near = torch.exp(-0.5 * (s.ball_pos - hoop(t)).norm(dim=1))
    high = 0.2 * torch.exp(-(s.ball_pos[:, 2] - HOOP).abs())
    return torch.where(slow, 0.1, 1.0) * (near + t["success"].float() + high)


def advance(s: TaskState, t: dict) -> dict:
    xy, ok = landing(s.ball_pos, s.ball_vel)
    hit = ok & ((xy - t["goal"]).norm(dim=1) < 0.3) & (s.ball_pos[:, 2] > LANDING_HEIGHT) & ~s.ball_contact
    return {**t, "success": t["success"] | hit}
