"""Ball retargeting: make the ball meet our humanoid's hands where the data says they touch.

Forward kinematics of our humanoid puts the hands a few centimetres from the capture
skeleton's hands, so the recorded ball is often 1-2 cm off our fingers while the clip is
flagged "contact" (and sometimes inside them): replayed in the simulator, only 77 % of
BallPlay-M frames then agree with the flag. Moving the ball along the line to the nearest
hand segment, so it touches (contact frames) or clears (other frames), restores that
agreement to ~99 % while the body motion stays as recorded.
"""

from __future__ import annotations

import torch

from skillmimic import rotations as rot
from skillmimic.humanoid import BALL_RADIUS, BODIES, HAND_BODIES, body_index

TOUCH_DEPTH = 0.005  # m the ball sinks into the nearest hand segment on contact frames
CLEARANCE = 0.01  # m kept between ball and hands on frames without contact

_HAND = [body_index(n) for n in HAND_BODIES]


def hand_ball_distance(
    body_pos: torch.Tensor, body_rot: torch.Tensor, ball_pos: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Signed surface distance [T, H] from the ball to each hand capsule, and the unit direction
    [T, H, 3] from the capsule's closest axis point to the ball centre."""
    geoms = [BODIES[i].geom for i in _HAND]
    ends = [g.fromto for g in geoms if g.fromto is not None]
    assert len(ends) == len(geoms), "every hand segment is a capsule"
    a_loc = torch.tensor([e[:3] for e in ends], dtype=body_pos.dtype, device=body_pos.device)
    b_loc = torch.tensor([e[3:] for e in ends], dtype=body_pos.dtype, device=body_pos.device)
    radius = torch.tensor([g.size[0] for g in geoms], dtype=body_pos.dtype, device=body_pos.device)
    p, q = body_pos[:, _HAND], body_rot[:, _HAND]
    a = p + rot.quat_rotate(q, a_loc.expand_as(p))
    ab = p + rot.quat_rotate(q, b_loc.expand_as(p)) - a
    t = (((ball_pos.unsqueeze(1) - a) * ab).sum(-1) / (ab * ab).sum(-1).clamp_min(1e-12)).clamp(0.0, 1.0)
    v = ball_pos.unsqueeze(1) - (a + t.unsqueeze(-1) * ab)
    dist = v.norm(dim=-1)
    return dist - radius - BALL_RADIUS, v / dist.unsqueeze(-1).clamp_min(1e-9)


def retarget_ball(
    body_pos: torch.Tensor, body_rot: torch.Tensor, ball_pos: torch.Tensor, contact: torch.Tensor, iterations: int = 4
) -> torch.Tensor:
    """Ball positions [T, 3] moved to touch the nearest hand segment where ``contact`` is 1 and to
    clear the hands where it is 0; frames already right are unchanged.

    Each pass moves the ball along the line to the nearest segment; a few passes settle a ball
    held between two hands (moving it off one can push it into the other)."""
    rows = torch.arange(len(ball_pos), device=ball_pos.device)
    for _ in range(iterations):
        dist, direction = hand_ball_distance(body_pos, body_rot, ball_pos)
        nearest, idx = dist.min(dim=1)
        target = torch.where(contact > 0, torch.full_like(nearest, -TOUCH_DEPTH), nearest.clamp_min(CLEARANCE))
        moved = ball_pos + (target - nearest).unsqueeze(-1) * direction[rows, idx]
        # never push the ball into the floor (a hand pressing down on a ball on the ground)
        ball_pos = torch.cat((moved[:, :2], moved[:, 2:].clamp_min(BALL_RADIUS - TOUCH_DEPTH)), dim=1)
    return ball_pos
