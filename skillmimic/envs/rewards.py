"""The unified HOI imitation reward: a product of Gaussian-kernel terms, r = prod_k exp(-w_k e_k).

Every function is pure. ``HOIState`` holds what the reward compares, for the simulated
character after a step and for the reference frame it was meant to reach.

Errors (means of squares):
- p  body position: root and 17 key bodies, world frame;
- r  body rotation: rotation vector of the relative rotation sim^-1 * ref of the root (world)
     and of every joint's local rotation (a geodesic error; its mean over the 159 components
     equals mean(angle^2) / 3, the scale of upstream's raw component differences);
- op ball position;
- ig interaction graph: the 18 vectors from the ball to the root and key bodies;
- cg1 forbidden-body contact: 1 when one of the 17 trunk/limb bodies touches anything while the
     reference has no such contact (upstream's reference is always 0);
- cg2 hand-ball contact: |sim - reference label|.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from skillmimic import rotations as rot
from skillmimic.envs.indexing import take
from skillmimic.humanoid import KEY_BODIES, body_index

KEY_IDS = (0,) + tuple(body_index(n) for n in KEY_BODIES)  # root + 17 key bodies = the 18 graph nodes
TERMS = ("p", "r", "op", "ig", "cg1", "cg2")


@dataclass
class HOIState:
    nodes: torch.Tensor  # [N, 18, 3] world positions of the root and the 17 key bodies
    rotations: torch.Tensor  # [N, 53, 4] root world rotation + 52 local joint rotations
    ball_pos: torch.Tensor  # [N, 3]
    ball_contact: torch.Tensor  # [N] 1 if a hand touches the ball
    body_contact: torch.Tensor  # [N] 1 if a forbidden body touches anything


def hoi_state(body_pos, root_rot, dof_pos, ball_pos, ball_contact, body_contact) -> HOIState:
    joints = rot.quat_from_hinges(dof_pos.reshape(dof_pos.shape[0], -1, 3))
    return HOIState(
        nodes=take(body_pos, 1, KEY_IDS),
        rotations=torch.cat((root_rot.unsqueeze(1), joints), dim=1),
        ball_pos=ball_pos,
        ball_contact=ball_contact.float(),
        body_contact=body_contact.float(),
    )


def position_error(sim: HOIState, ref: HOIState) -> torch.Tensor:
    return ((ref.nodes - sim.nodes) ** 2).mean(dim=(1, 2))


def rotation_error(sim: HOIState, ref: HOIState) -> torch.Tensor:
    rel = rot.quat_mul(rot.quat_conj(sim.rotations), ref.rotations)
    return (rot.quat_to_rotvec(rel) ** 2).mean(dim=(1, 2))


def node_distance(sim: HOIState, ref: HOIState) -> torch.Tensor:
    """Root-mean-square distance (m) of the 18 reward nodes from the reference's: the p error is the
    mean over nodes and axes of squared differences, so the distance is sqrt(3 * p error)."""
    return (3.0 * position_error(sim, ref)).sqrt()


def ball_offset_error(sim: HOIState, ref: HOIState) -> torch.Tensor:
    """Distance (m) between the ball's offset from the root and the reference's: whether the ball is
    where it belongs relative to the body, wherever the body stands."""
    return ((sim.ball_pos - sim.nodes[:, 0]) - (ref.ball_pos - ref.nodes[:, 0])).norm(dim=1)


def ball_position_error(sim: HOIState, ref: HOIState) -> torch.Tensor:
    return ((ref.ball_pos - sim.ball_pos) ** 2).mean(dim=1)


def interaction_graph_error(sim: HOIState, ref: HOIState) -> torch.Tensor:
    g_sim = sim.nodes - sim.ball_pos.unsqueeze(1)
    g_ref = ref.nodes - ref.ball_pos.unsqueeze(1)
    return ((g_ref - g_sim) ** 2).mean(dim=(1, 2))


def body_contact_error(sim: HOIState, ref: HOIState) -> torch.Tensor:
    return sim.body_contact * (1.0 - ref.body_contact)


def ball_contact_error(sim: HOIState, ref: HOIState) -> torch.Tensor:
    return (sim.ball_contact - ref.ball_contact).abs()


ERRORS = {
    "p": position_error,
    "r": rotation_error,
    "op": ball_position_error,
    "ig": interaction_graph_error,
    "cg1": body_contact_error,
    "cg2": ball_contact_error,
}


def imitation_reward(sim: HOIState, ref: HOIState, weights: dict[str, float]) -> tuple[torch.Tensor, dict]:
    """Total reward [N] and each term exp(-w e) [N], keyed like ``TERMS``."""
    terms = {k: torch.exp(-weights[k] * ERRORS[k](sim, ref)) for k in TERMS}
    total = torch.ones_like(terms["p"])
    for v in terms.values():
        total = total * v
    return total, terms


def clip_mean_substitute(
    reward: torch.Tensor, clip: torch.Tensor, substitute: torch.Tensor, num_clips: int
) -> torch.Tensor:
    """``reward`` [N] with the entries flagged in ``substitute`` replaced by the mean reward of the
    unflagged envs on the same clip (of all unflagged envs when the clip has none; 0 when no env
    is unflagged): SkillMimic-V2's buffer steps and missing reference frames."""
    keep = (~substitute).to(reward.dtype)
    sums = torch.zeros(num_clips, dtype=reward.dtype, device=reward.device).index_add_(0, clip, reward * keep)
    counts = torch.zeros_like(sums).index_add_(0, clip, keep)
    overall = (reward * keep).sum() / keep.sum().clamp_min(1)
    mean = torch.where(counts > 0, sums / counts.clamp_min(1), overall)
    return torch.where(substitute, mean[clip], reward)
