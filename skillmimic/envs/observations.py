"""Policy observation of the imitation env: pure functions of simulator tensors.

Layout (882 values), everything heading-local unless noted. The heading frame is the root's
yaw (see ``rotations.heading_angle``); rotating the whole scene about world z leaves every
part unchanged.

| slice     | size | part                                                                 |
|-----------|------|----------------------------------------------------------------------|
| 0:1       | 1    | root height (world z)                                                |
| 1:157     | 156  | positions of bodies 1..52 relative to the root                       |
| 157:475   | 318  | orientation of all 53 bodies, 6-d (rotated x- and z-axes)            |
| 475:634   | 159  | linear velocity of the 53 bodies                                     |
| 634:793   | 159  | angular velocity of the 53 bodies                                    |
| 793:803   | 10   | ball contact normal force on each fingertip (N, clipped)             |
| 803:806   | 3    | ball position: horizontal offset from the root, absolute height      |
| 806:812   | 6    | ball orientation, 6-d                                                |
| 812:815   | 3    | ball linear velocity                                                 |
| 815:818   | 3    | ball angular velocity                                                |
| 818:882   | 64   | skill one-hot                                                        |

Optional parts follow in this order: ``history`` (3, SkillMimic-V2's history embedding) and
``reference`` (162, ``env.reference_obs``: a tracking teacher's view of the next reference frame:
its joint angles minus the character's, wrapped to (-pi, pi], and its root and ball minus the
character's root and the simulated ball, both in the heading frame).

Upstream (902 values) feeds raw world-frame fingertip force vectors (30); we use the ball
contact force per fingertip, which is heading-invariant and says what the hand holds.
"""

from __future__ import annotations

import torch

from skillmimic import rotations as rot
from skillmimic.envs.indexing import take
from skillmimic.humanoid import FINGERTIPS, NUM_BODIES, NUM_DOFS, body_index
from skillmimic.skills import NUM_SKILL_SLOTS

FINGERTIP_IDS = tuple(body_index(n) for n in FINGERTIPS)
_PARTS = (
    ("root_height", 1),
    ("body_pos", 3 * (NUM_BODIES - 1)),
    ("body_rot", 6 * NUM_BODIES),
    ("body_vel", 3 * NUM_BODIES),
    ("body_ang_vel", 3 * NUM_BODIES),
    ("fingertip_contact", len(FINGERTIPS)),
    ("ball_pos", 3),
    ("ball_rot", 6),
    ("ball_vel", 3),
    ("ball_ang_vel", 3),
    ("skill", NUM_SKILL_SLOTS),
)
OBS_LAYOUT: dict[str, tuple[int, int]] = {}
_start = 0
for _name, _size in _PARTS:
    OBS_LAYOUT[_name] = (_start, _start + _size)
    _start += _size
OBS_SIZE = _start  # 882
HISTORY_EMBED = 3  # SkillMimic-V2's history embedding, appended when the env has an encoder
REFERENCE_OBS = NUM_DOFS + 6  # the next reference frame, for a tracking teacher


def obs_layout(history: bool = False, reference: bool = False) -> dict[str, tuple[int, int]]:
    """The layout above, plus ``history`` (3) when the history encoder is on and ``reference``
    (162) with ``env.reference_obs``."""
    layout, end = dict(OBS_LAYOUT), OBS_SIZE
    for name, on, size in (("history", history, HISTORY_EMBED), ("reference", reference, REFERENCE_OBS)):
        if on:
            layout[name] = (end, end + size)
            end += size
    return layout


def obs_size(history: bool = False, reference: bool = False) -> int:
    return OBS_SIZE + (HISTORY_EMBED if history else 0) + (REFERENCE_OBS if reference else 0)


def heading_inverse(root_rot: torch.Tensor) -> torch.Tensor:
    """Rotation about z that undoes the root's heading, [N, 4]."""
    return rot.yaw_quat(-rot.heading_angle(root_rot))


def humanoid_obs(body_pos, body_rot, body_vel, body_ang_vel, fingertip_force) -> torch.Tensor:
    """[N, 803]: root height, then heading-local body positions, rotations, velocities, contacts."""
    n = body_pos.shape[0]
    inv = heading_inverse(body_rot[:, 0]).unsqueeze(1)  # [N, 1, 4]
    root = body_pos[:, :1]
    local_pos = rot.quat_rotate(inv, body_pos[:, 1:] - root)
    local_rot = rot.tan_norm(rot.quat_mul(inv.expand_as(body_rot), body_rot))
    return torch.cat(
        (
            body_pos[:, 0, 2:3],
            local_pos.reshape(n, -1),
            local_rot.reshape(n, -1),
            rot.quat_rotate(inv, body_vel).reshape(n, -1),
            rot.quat_rotate(inv, body_ang_vel).reshape(n, -1),
            fingertip_force,
        ),
        dim=1,
    )


def ball_obs(root_pos, root_rot, ball_pos, ball_rot, ball_vel, ball_ang_vel) -> torch.Tensor:
    """[N, 15]: ball position (horizontal offset from the root, absolute height), rotation, velocities."""
    inv = heading_inverse(root_rot)
    offset = ball_pos - root_pos
    offset = torch.cat((offset[:, :2], torch.zeros_like(offset[:, 2:])), dim=1)
    local = rot.quat_rotate(inv, offset)
    local = torch.cat((local[:, :2], ball_pos[:, 2:3]), dim=1)
    return torch.cat(
        (
            local,
            rot.tan_norm(rot.quat_mul(inv, ball_rot)),
            rot.quat_rotate(inv, ball_vel),
            rot.quat_rotate(inv, ball_ang_vel),
        ),
        dim=1,
    )


def skill_one_hot(skill_ids: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.one_hot(skill_ids.long(), NUM_SKILL_SLOTS).float()


def fingertip_forces(ball_body_force: torch.Tensor, clip: float) -> torch.Tensor:
    """[N, 10] ball contact force on each fingertip, clipped so impacts do not dominate statistics."""
    return take(ball_body_force, 1, FINGERTIP_IDS).clamp(0.0, clip)


def reference_obs(root_pos, root_rot, dof_pos, ball_pos, ref_root_pos, ref_dof_pos, ref_ball_pos) -> torch.Tensor:
    """[N, 162]: the next reference frame as seen from the character (module docstring)."""
    inv = heading_inverse(root_rot)
    return torch.cat(
        (
            rot.wrap_angle(ref_dof_pos - dof_pos),
            rot.quat_rotate(inv, ref_root_pos - root_pos),
            rot.quat_rotate(inv, ref_ball_pos - ball_pos),
        ),
        dim=1,
    )
