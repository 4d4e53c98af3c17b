"""A reference that goes on past its clip's end, and what a tracking policy sees of it.

Eval runs 160-600 steps while a BallPlay clip lasts 1.5-5 s; held on its last frame, the
reference of a dribble stops dribbling, so a policy that tracks it (and a teacher that labels a
student's states) has nothing to follow. With ``env.loop_reference`` the reference jumps from
the clip's last frame back to its most similar frame at least ``LOOP_GAP`` frames earlier (the
trajectory graph's similarity, yaw- and xy-aligned), re-anchored so the jump keeps the root's
heading and place: a stationary dribble becomes an endless one.
"""

from __future__ import annotations

import torch

from skillmimic import rotations as rot
from skillmimic.graph.similarity import features_index, frame_features, graph_weights, similarity

LOOP_GAP = 30  # frames (0.5 s): the shortest loop


def loop_targets(lib) -> tuple[torch.Tensor, torch.Tensor]:
    """Per clip: the valid frame at least ``LOOP_GAP`` before the last one that is most similar to
    the last frame, and that similarity (1 = the same pose, ball and velocities)."""
    feats = frame_features(lib)
    to, sim = [], []
    for c in range(lib.num_clips):
        s, n = int(lib.starts[c]), int(lib.lengths[c])
        cand = torch.arange(s, s + max(n - 1 - LOOP_GAP, 1), device=lib.device)
        cand = cand[lib.valid[cand]] if bool(lib.valid[cand].any()) else cand[:1]
        last = features_index(feats, torch.tensor([s + n - 1], device=lib.device))
        row = similarity(last, features_index(feats, cand), graph_weights(int(lib.skill_ids[c])))[0]
        to.append(int(cand[row.argmax()]) - s)
        sim.append(float(row.max()))
    return torch.tensor(to, device=lib.device), torch.tensor(sim)


def loop_anchor(lib, clips, end, to, yaw, shift) -> tuple[torch.Tensor, torch.Tensor]:
    """The anchor (yaw about z, xy shift) that puts lib frame ``to`` where frame ``end`` of the same
    clip stands under the anchor (``yaw``, ``shift``): same heading, same root xy."""
    e, t = lib.get(clips, end), lib.get(clips, to)
    new_yaw = rot.wrap_angle(yaw + rot.heading_angle(e.root_rot) - rot.heading_angle(t.root_rot))
    here = rot.quat_rotate(rot.yaw_quat(yaw), e.root_pos) + shift
    there = rot.quat_rotate(rot.yaw_quat(new_yaw), t.root_pos)
    new_shift = here - there
    new_shift[:, 2] = 0.0  # heights stay the clip's
    return new_yaw, new_shift
