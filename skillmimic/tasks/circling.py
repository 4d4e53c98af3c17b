"""Circling: dribble around a circle of radius 2-5 m centred where the character starts.

Reward per control step exp(-| |ball_xy - centre| - R |), times 0.1 while the ball moves slower
than 0.5 m/s (upstream). Success (latched): the ball has gone a full turn around the centre
(2 pi of accumulated bearing) while staying within 0.5 m of the circle on at least 80 % of the
steps so far. Upstream's test (ball xy within 0.3 m of the centre) asks for the opposite of what
its reward pays for: a ball on the circle is R >= 2 m from the centre.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from skillmimic import rotations as rot
from skillmimic.skills import skill_id
from skillmimic.tasks.common import Goal, Marker, TaskConfig, TaskState, cleared, local_target, ring


@dataclass(frozen=True)
class CirclingConfig(TaskConfig):
    radius_min: float = 2.0  # m: circle radii are drawn in [min, max)
    radius_max: float = 5.0
    on_circle: float = 0.5  # m: the ball counts as on the circle this close to it
    on_fraction: float = 0.8  # of the steps so far, on the circle, for a lap to count
    slow_ball: float = 0.5  # m/s: the reward is cut to 0.1 while the ball is slower


NAME = "circling"
CONFIG = CirclingConfig()
SKILLS = tuple(skill_id(n) for n in ("dribble_right", "dribble_forward", "dribble_left"))
OBS_SIZE = 5
MOVABLE = "centre"


def sample(s: TaskState, gen: torch.Generator) -> dict[str, torch.Tensor]:
    n, dev = len(s.root_pos), s.root_pos.device
    span = CONFIG.radius_max - CONFIG.radius_min
    radius = (CONFIG.radius_min + span * torch.rand(n, generator=gen)).to(dev)
    centre = s.root_pos[:, :2].clone()
    angle = _bearing(s.ball_pos, centre)
    zero = torch.zeros(n, device=dev)
    return dict(
        centre=centre,
        radius=radius,
        angle=angle,
        swept=zero,
        on=zero.clone(),
        steps=zero.clone(),
        success=cleared(n, dev),
    )


def _bearing(ball_pos: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
    d = ball_pos[:, :2] - centre
    return torch.atan2(d[:, 1], d[:, 0])


def _off_circle(s: TaskState, t: dict) -> torch.Tensor:
    return ((s.ball_pos[:, :2] - t["centre"]).norm(dim=1) - t["radius"]).abs()


def observe(s: TaskState, t: dict) -> torch.Tensor:
    return torch.cat((local_target(s.root_pos, s.root_rot, t["centre"]), t["radius"].unsqueeze(1)), dim=1)


def reward(s: TaskState, t: dict) -> torch.Tensor:
    slow = s.ball_vel.norm(dim=1) < CONFIG.slow_ball
    return torch.exp(-_off_circle(s, t)) * torch.where(slow, 0.1, 1.0)


def advance(s: TaskState, t: dict) -> dict:
    angle = _bearing(s.ball_pos, t["centre"])
    swept = t["swept"] + rot.wrap_angle(angle - t["angle"])
    on = t["on"] + (_off_circle(s, t) < CONFIG.on_circle).float()
    steps = t["steps"] + 1
    lap = (swept.abs() >= 2 * torch.pi) & (on >= CONFIG.on_fraction * steps)
    return {**t, "angle": angle, "swept": swept, "on": on, "steps": steps, "success": t["success"] | lap}


def markers(goal: Goal, start_xy) -> list[Marker]:
    """The centre, and the circle on the floor."""
    cx, cy = (float(v) for v in goal["centre"])
    r = float(goal["radius"])
    return [Marker((cx, cy, 0.1), 0.1), *ring((cx, cy), r, 0.03, 0.02, max(24, round(12 * r)))]


def focus(goal: Goal, start_xy) -> list[list[float]]:
    """The whole circle."""
    c, r = goal["centre"], float(goal["radius"])
    return [[float(c[0]) + dx * r, float(c[1]) + dy * r, 0.1] for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1))]
