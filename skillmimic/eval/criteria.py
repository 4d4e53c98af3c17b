"""Per-skill success criteria on recorded episodes (upstream SkillMimic ``tasks/metric``).

Every criterion is a pure function of a ``Trajectory`` (time-major tensors, one column per
episode) and returns a success flag per episode. Step ``n`` counts from 0 at the first step.

| criterion | per-step condition ``at``                                  | success rule                                |
|-----------|------------------------------------------------------------|---------------------------------------------|
| dribble   | root z > 0.5, ball within 1 m of the root horizontally     | ``at`` at every step, and every 1-s window  |
|           |                                                            | holds a hand-ball touch and a ball vertical |
|           |                                                            | speed above 1 m/s                           |
| layup     | root z > 0.5, ball z > 1.8 and rising (v_z > 0.5 m/s), a   | once in n < 300, then root z > 0.5          |
|           | hand touched it within the last 15 steps                   |                                             |
| shot      | root z > 0.5, ball height within 0.2 m of the target, a    | once in n < 300, then root z > 0.5          |
|           | hand touched the ball earlier in the episode               |                                             |
| hold      | root z > 0.5, ball within 0.5 m of the root                | more than 60 steps, or each of the last 10  |
| release   | root z > 0.5, ball more than 2 m from the root, in the air | once in n < 300, then root z > 0.5          |
|           | (z > 0.3), a hand touched it within the last 30 steps      |                                             |
| getup     | root z > 0.7, root speed < 1                               | more than 60 steps                          |
| run       | root z > 0.7, root speed > 1                               | in more than 80 % of the steps              |

The shot target is the reference ball position at the clip's highest ball frame. Changes from
upstream: an episode that ends in a fall fails whatever its skill (upstream's rules can pass a
humanoid that scored and then fell); upstream's pickup criterion is called ``hold`` and also
covers rebound and catch; dribble covers every dribble move (040-045), layup the turnaround
layup, turn hook and chest pass; ``release`` (pass) is ours, upstream has no pass criterion.

Every rule must fail a character that stands still beside a dropped ball (``tests/test_criteria.py``
holds the body at each eval start and lets the ball fall). Upstream's dribble (root up, ball within
1.5 m of the root and ``|v_z| > 1e-5``) and layup tail (then ``|v_z| > 1e-5`` at every step) are met
by a resting ball: its contact jitter keeps ``|v_z|`` above 1e-5 for as long as we measured (15 s).
So our dribble asks for the dribble itself: over BallPlay-M's dribble clips (011-013, 040-045) the
longest stretch without a hand-ball touch is 22 frames and without ``|v_z| > 1`` m/s 50 frames
(a pick-up into the dribble), the ball at most 0.74 m from the root horizontally; a dropped ball
is touched once and stops bouncing faster than 1 m/s within ~3 s. The layup must lift the ball
past 1.8 m from the hand (031 rises past it at 1.1 m/s, still in the hand; a ball pushed down in a
dribble and let go rebounds to 2.2 m on its own), the shot must have touched it (an episode that
starts with the ball in flight does not score), the pass must send it 2 m away through the air
within 0.5 s of the hand (BallPlay-M's pass: 20 frames; a dropped ball bounces and rolls that far
in ~1.5 s). Upstream's rules stay available as ``UPSTREAM``
(``success(..., rules="upstream")``); eval reports both.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from skillmimic.errors import SkillMimicError

WINDOW = 60  # control steps (1 s at 60 Hz): a dribble touches and bounces the ball in each
DRIBBLE_REACH = 1.0  # m, ball from the root horizontally
BOUNCE_SPEED = 1.0  # m/s, the ball's vertical speed that shows a live dribble
RISING = 0.5  # m/s, a layup ball's upward speed above 1.8 m
AIRBORNE = 0.3  # m, ball centre height that is not rolling on the floor (radius 0.12)
RELEASE_STEPS = 15  # a layup ball rises past 1.8 m in the hand or within 0.25 s of leaving it
PASS_STEPS = 30  # a pass is 2 m away within 0.5 s of leaving the hand


@dataclass
class Trajectory:
    root_pos: torch.Tensor  # [T, N, 3]
    root_vel: torch.Tensor  # [T, N, 3]
    ball_pos: torch.Tensor  # [T, N, 3]
    ball_vel: torch.Tensor  # [T, N, 3]
    hand_touch: torch.Tensor  # [T, N] bool: a hand touches the ball
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


def _every_window(event: torch.Tensor, t: Trajectory, window: int = WINDOW) -> torch.Tensor:
    """[N] ``event`` happens in every ``window`` consecutive valid steps (an episode shorter than
    one window needs it once)."""
    hits = torch.cumsum((event & t.valid).long(), dim=0)
    before = torch.cat((torch.zeros_like(hits[:1]), hits[:-1]))  # hits before each step
    ends = _steps(t) + window - 1  # the window starting at each step ends here
    length = t.valid.sum(dim=0, keepdim=True)
    full = ends < length  # windows that fit inside the episode
    end_hits = hits.gather(0, ends.clamp_max(hits.shape[0] - 1).expand_as(hits))
    ok = ~full | (end_hits - before > 0)
    short = hits[-1] > 0  # shorter than a window: once is enough
    return torch.where(length[0] < window, short, ok.all(dim=0))


def _touched_within(t: Trajectory, steps: int) -> torch.Tensor:
    """[T, N] a hand touched the ball at this step or in the ``steps`` before it."""
    hits = torch.cumsum((t.hand_touch & t.valid).long(), dim=0)
    earlier = torch.cat((torch.zeros_like(hits[: steps + 1]), hits[: -(steps + 1)]))[: hits.shape[0]]
    return hits - earlier > 0


def _up(t: Trajectory, height: float = 0.5) -> torch.Tensor:
    return t.root_pos[..., 2] > height


def _ball_dist(t: Trajectory) -> torch.Tensor:
    return (t.ball_pos - t.root_pos).norm(dim=-1)


def _ball_moving(t: Trajectory) -> torch.Tensor:
    return t.ball_vel[..., 2].abs() > 1e-5


def dribble(t: Trajectory) -> torch.Tensor:
    near = (t.ball_pos[..., :2] - t.root_pos[..., :2]).norm(dim=-1) < DRIBBLE_REACH
    kept = ((_up(t) & near) | ~t.valid).all(dim=0)
    bounce = t.ball_vel[..., 2].abs() > BOUNCE_SPEED
    return kept & _every_window(t.hand_touch, t) & _every_window(bounce, t)


def layup(t: Trajectory) -> torch.Tensor:
    at = _up(t) & (t.ball_pos[..., 2] > 1.8) & (t.ball_vel[..., 2] > RISING) & _touched_within(t, RELEASE_STEPS)
    return _once_then_always(at, _up(t), t, 300)


def shot(t: Trajectory) -> torch.Tensor:
    touched = torch.cumsum((t.hand_touch & t.valid).long(), dim=0) > 0
    at = _up(t) & ((t.ball_pos[..., 2] - t.target[:, 2]).abs() < 0.2) & touched
    return _once_then_always(at, _up(t), t, 300)


def hold(t: Trajectory) -> torch.Tensor:
    at = _up(t) & (_ball_dist(t) < 0.5)
    last = t.valid.sum(dim=0, keepdim=True) - _steps(t)  # 1 at an episode's final step
    ends_holding = (at | (last > 10) | ~t.valid).all(dim=0) & (t.valid.sum(dim=0) >= 10)
    return (_count(at, t) > 60) | ends_holding


def release(t: Trajectory) -> torch.Tensor:
    airborne = t.ball_pos[..., 2] > AIRBORNE
    at = _up(t) & (_ball_dist(t) > 2.0) & airborne & _touched_within(t, PASS_STEPS)
    return _once_then_always(at, _up(t), t, 300)


def getup(t: Trajectory) -> torch.Tensor:
    return _count(_up(t, 0.7) & (t.root_vel.norm(dim=-1) < 1.0), t) > 60


def run(t: Trajectory) -> torch.Tensor:
    at = _up(t, 0.7) & (t.root_vel.norm(dim=-1) > 1.0)
    return _count(at, t) > 0.8 * t.valid.sum(dim=0)


def upstream_dribble(t: Trajectory) -> torch.Tensor:
    """Upstream SkillMimic's dribble: met by standing near a resting ball (module docstring)."""
    at = _up(t) & (_ball_dist(t) < 1.5) & _ball_moving(t)
    return _once_then_always(at, at, t, 100)


def upstream_layup(t: Trajectory) -> torch.Tensor:
    at = _up(t) & (t.ball_pos[..., 2] > 1.8)
    return _once_then_always(at, _up(t) & _ball_moving(t), t, 300)


def upstream_shot(t: Trajectory) -> torch.Tensor:
    at = _up(t) & ((t.ball_pos[..., 2] - t.target[:, 2]).abs() < 0.2)
    return _once_then_always(at, _up(t), t, 300)


def upstream_release(t: Trajectory) -> torch.Tensor:
    """Our pass rule before the airborne check (upstream has none)."""
    return _once_then_always(_up(t) & (_ball_dist(t) > 2.0), _up(t), t, 300)


CRITERIA = {
    "dribble": dribble,
    "layup": layup,
    "shot": shot,
    "hold": hold,
    "release": release,
    "getup": getup,
    "run": run,
}
# the published rules, for comparisons with upstream's tables (same names, same skill map)
UPSTREAM = {
    **CRITERIA,
    "dribble": upstream_dribble,
    "layup": upstream_layup,
    "shot": upstream_shot,
    "release": upstream_release,
}
RULES = {"ours": CRITERIA, "upstream": UPSTREAM}
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


def success(t: Trajectory, skill_ids: torch.Tensor, rules: str = "ours") -> torch.Tensor:
    """[N] success of each episode under its skill's criterion (``rules``: ours or upstream's);
    a fall always fails."""
    ok = torch.zeros(t.fell.shape, dtype=torch.bool, device=t.fell.device)
    for sid in skill_ids.unique().tolist():
        cols = skill_ids == sid
        ok[cols] = RULES[rules][criterion_for(sid)](_columns(t, cols))
    return ok & ~t.fell


def _columns(t: Trajectory, cols: torch.Tensor) -> Trajectory:
    return Trajectory(
        t.root_pos[:, cols],
        t.root_vel[:, cols],
        t.ball_pos[:, cols],
        t.ball_vel[:, cols],
        t.hand_touch[:, cols],
        t.valid[:, cols],
        t.fell[cols],
        t.target[cols],
    )
