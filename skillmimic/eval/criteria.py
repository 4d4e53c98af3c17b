"""Per-skill success criteria on recorded episodes (upstream SkillMimic ``tasks/metric``).

Every criterion is a pure function of a ``Trajectory`` (time-major tensors, one column per
episode) and returns a success flag per episode. Step ``n`` counts from 0 at the first step.

| criterion | per-step condition ``at``                                 | success rule                                |
|-----------|-----------------------------------------------------------|---------------------------------------------|
| dribble   | root z > 0.5, ball within 1.5 m of the root and moving    | ``at`` once in n < 100, then at every later |
|           | vertically (abs(v_z) > 1e-5)                              | step                                        |
| layup     | root z > 0.5, ball z > 1.8                                | once in n < 300, then root z > 0.5 and ball |
|           |                                                           | moving vertically                           |
| shot      | root z > 0.5, ball height within 0.2 m of the target      | once in n < 300, then root z > 0.5          |
| hold      | root z > 0.5, ball within 0.5 m of the root               | more than 60 steps, or each of the last 10  |
| release   | root z > 0.5, ball more than 2 m from the root            | once in n < 300, then root z > 0.5          |
| getup     | root z > 0.7, root speed < 1                              | more than 60 steps                          |
| run       | root z > 0.7, root speed > 1                              | in more than 80 % of the steps              |

The shot target is the reference ball position at the clip's highest ball frame. Changes from
upstream: an episode that ends in a fall fails whatever its skill (upstream's rules can pass a
humanoid that scored and then fell); upstream's pickup criterion is called ``hold`` and also
covers rebound and catch; dribble covers every dribble move (040-045), layup the turnaround
layup, turn hook and chest pass; ``release`` (pass) is ours, upstream has no pass criterion.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from skillmimic.errors import SkillMimicError


@dataclass
class Trajectory:
    root_pos: torch.Tensor  # [T, N, 3]
    root_vel: torch.Tensor  # [T, N, 3]
    ball_pos: torch.Tensor  # [T, N, 3]
    ball_vel: torch.Tensor  # [T, N, 3]
    valid: torch.Tensor  # [T, N] bool: steps before the episode ended
    fell: torch.Tensor  # [N] bool: the episode ended in a fall
    target: torch.Tensor  # [N, 3] shot target


def _steps(t: Trajectory) -> torch.Tensor:
    return torch.arange(t.valid.shape[0], device=t.valid.device).unsqueeze(1)


def _once_then_always(at: torch.Tensor, after: torch.Tensor, t: Trajectory, window: int) -> torch.Tensor:
    n = _steps(t)
    reached = (at & t.valid & (n < window)).any(dim=0)
    kept = (after | ~t.valid | (n < window)).all(dim=0)
    return reached & kept


def _count(at: torch.Tensor, t: Trajectory) -> torch.Tensor:
    return (at & t.valid).sum(dim=0)


def _up(t: Trajectory, height: float = 0.5) -> torch.Tensor:
    return t.root_pos[..., 2] > height


def _ball_dist(t: Trajectory) -> torch.Tensor:
    return (t.ball_pos - t.root_pos).norm(dim=-1)


def _ball_moving(t: Trajectory) -> torch.Tensor:
    return t.ball_vel[..., 2].abs() > 1e-5


def dribble(t: Trajectory) -> torch.Tensor:
    at = _up(t) & (_ball_dist(t) < 1.5) & _ball_moving(t)
    return _once_then_always(at, at, t, 100)


def layup(t: Trajectory) -> torch.Tensor:
    at = _up(t) & (t.ball_pos[..., 2] > 1.8)
    return _once_then_always(at, _up(t) & _ball_moving(t), t, 300)


def shot(t: Trajectory) -> torch.Tensor:
    at = _up(t) & ((t.ball_pos[..., 2] - t.target[:, 2]).abs() < 0.2)
    return _once_then_always(at, _up(t), t, 300)


def hold(t: Trajectory) -> torch.Tensor:
    at = _up(t) & (_ball_dist(t) < 0.5)
    last = t.valid.sum(dim=0, keepdim=True) - _steps(t)  # 1 at an episode's final step
    ends_holding = (at | (last > 10) | ~t.valid).all(dim=0) & (t.valid.sum(dim=0) >= 10)
    return (_count(at, t) > 60) | ends_holding


def release(t: Trajectory) -> torch.Tensor:
    return _once_then_always(_up(t) & (_ball_dist(t) > 2.0), _up(t), t, 300)


def getup(t: Trajectory) -> torch.Tensor:
    return _count(_up(t, 0.7) & (t.root_vel.norm(dim=-1) < 1.0), t) > 60


def run(t: Trajectory) -> torch.Tensor:
    at = _up(t, 0.7) & (t.root_vel.norm(dim=-1) > 1.0)
    return _count(at, t) > 0.8 * t.valid.sum(dim=0)


CRITERIA = {
    "dribble": dribble,
    "layup": layup,
    "shot": shot,
    "hold": hold,
    "release": release,
    "getup": getup,
    "run": run,
}
SKILL_CRITERION = {
    0: "getup",
    1: "hold",
    2: "hold",
    3: "hold",
    4: "release",
    5: "shot",
    6: "shot",
    7: "shot",
    9: "shot",
    10: "run",
    11: "dribble",
    12: "dribble",
    13: "dribble",
    16: "layup",
    22: "shot",
    23: "layup",
    31: "layup",
    34: "layup",
    40: "dribble",
    41: "dribble",
    42: "dribble",
    43: "dribble",
    44: "dribble",
    45: "dribble",
}


def criterion_for(skill_id: int) -> str:
    if skill_id not in SKILL_CRITERION:
        raise SkillMimicError(f"no success criterion for skill {skill_id:03d}; add it to SKILL_CRITERION")
    return SKILL_CRITERION[skill_id]


def success(t: Trajectory, skill_ids: torch.Tensor) -> torch.Tensor:
    """[N] success of each episode under its skill's criterion; a fall always fails."""
    ok = torch.zeros(t.fell.shape, dtype=torch.bool, device=t.fell.device)
    for sid in skill_ids.unique().tolist():
        cols = skill_ids == sid
        ok[cols] = CRITERIA[criterion_for(sid)](_columns(t, cols))
    return ok & ~t.fell


def _columns(t: Trajectory, cols: torch.Tensor) -> Trajectory:
    return Trajectory(
        t.root_pos[:, cols],
        t.root_vel[:, cols],
        t.ball_pos[:, cols],
        t.ball_vel[:, cols],
        t.valid[:, cols],
        t.fell[cols],
        t.target[cols],
    )
