"""Frame-to-frame similarity of the stitched trajectory graph (SkillMimic-V2's state search).

A similarity is a product of Gaussian kernels, ``exp(-sum_k w_k * d_k)``, over mean squared
differences ``d_k`` of two frames:

- ``pos``/``pv``: the 17 key bodies' positions / finite-difference velocities (51 values);
- ``rot``: the squared angle of each of the 52 joints' relative local rotation, averaged;
- ``op``/``ov``: ball position / velocity (3 values);
- ``rel``: the 17 key-body-minus-ball vectors (51 values);
- ``root_rot``: the squared angle of the relative root rotation; ``root_z``: root height.

For the graph the candidate frame is first aligned to the source: turned about world z by the
yaw difference and moved in xy onto the source root (heights stay the candidate's), so a skill
can be entered from any heading and place. Re-timing compares a state with frames of its own clip
in the world frame (no alignment): there the place on the court is part of what must match.

Features are plain dicts of tensors (see :func:`state_features`) so that any batch of states,
simulated or reference, can be compared without a motion library.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from skillmimic import rotations as rot
from skillmimic.errors import SkillMimicError
from skillmimic.humanoid import KEY_BODIES, NUM_BODIES, NUM_DOFS, body_index

KEY_BODY_IDS = tuple(body_index(n) for n in KEY_BODIES)
NO_BALL_SKILLS = (0, 10)  # getup, run_no_ball: the ball is irrelevant, the root height is not


@dataclass(frozen=True)
class SimilarityWeights:
    """Kernel weights; a zero weight drops its term."""

    pos: float
    pv: float
    rot: float
    op: float
    ov: float
    rel: float
    root_rot: float = 0.0
    root_z: float = 0.0


# Upstream's graph weights: ball skills, and getup / run without ball (root height instead of ball)
BALL_WEIGHTS = SimilarityWeights(pos=20, pv=0.1, rot=20, op=1, ov=0.1, rel=20)
NO_BALL_WEIGHTS = SimilarityWeights(pos=10, pv=0.1, rot=10, op=0, ov=0, rel=0, root_z=5)
# Re-timing a perturbed state onto its own clip: looser, and the root's orientation counts
RETIME_BALL_WEIGHTS = SimilarityWeights(pos=2, pv=0, rot=2, op=1, ov=0.1, rel=2, root_rot=2)
RETIME_NO_BALL_WEIGHTS = SimilarityWeights(pos=1, pv=0, rot=1, op=0, ov=0, rel=0, root_rot=1, root_z=1)

FEATURES = ("root_pos", "root_rot", "yaw", "key_pos", "key_vel", "joint_rot", "ball_pos", "ball_vel")


def graph_weights(skill: int) -> SimilarityWeights:
    """The graph weights used for edges leaving a frame of ``skill``."""
    return NO_BALL_WEIGHTS if skill in NO_BALL_SKILLS else BALL_WEIGHTS


def state_features(root_pos, root_rot, dof_pos, body_pos, ball_pos, ball_vel, body_vel=None) -> dict[str, torch.Tensor]:
    """Features of N states: what the similarity compares, computed once per frame.

    ``body_pos``/``body_vel`` are ``[N, 53, 3]`` (all bodies; the key bodies are taken here),
    ``dof_pos`` ``[N, 156]``; a missing ``body_vel`` is zero (for comparisons that ignore it).
    """
    n = root_pos.shape[0]
    if dof_pos.shape != (n, NUM_DOFS) or body_pos.shape != (n, NUM_BODIES, 3):
        raise SkillMimicError(
            f"state_features: expected dof_pos [{n}, {NUM_DOFS}] and body_pos [{n}, {NUM_BODIES}, 3], "
            f"found {list(dof_pos.shape)} and {list(body_pos.shape)}"
        )
    ids = torch.tensor(KEY_BODY_IDS, device=body_pos.device)
    key_pos = body_pos.index_select(1, ids)
    key_vel = torch.zeros_like(key_pos) if body_vel is None else body_vel.index_select(1, ids)
    return {
        "root_pos": root_pos,
        "root_rot": root_rot,
        "yaw": rot.heading_angle(root_rot),
        "key_pos": key_pos,
        "key_vel": key_vel,
        "joint_rot": rot.quat_from_hinges(dof_pos.reshape(n, -1, 3)),
        "ball_pos": ball_pos,
        "ball_vel": ball_vel,
    }


def frame_features(lib) -> dict[str, torch.Tensor]:
    """Features of every flat row of a :class:`~skillmimic.motion.library.MotionLibrary`."""
    f = lib.frames
    vel = clip_velocity(f.body_pos, lib.frame_clip, lib.valid, lib.dt)
    return state_features(f.root_pos, f.root_rot, f.dof_pos, f.body_pos, f.ball_pos, f.ball_vel, vel)


def clip_velocity(x: torch.Tensor, frame_clip: torch.Tensor, valid: torch.Tensor, dt: float) -> torch.Tensor:
    """Finite differences along flat rows: central inside a clip, one-sided at its ends.

    A difference never spans a clip boundary or a missing frame; no usable neighbour gives zero
    (the same rule as the library's own velocities).
    """
    ok = valid[1:] & valid[:-1] & (frame_clip[1:] == frame_clip[:-1])  # rows r, r+1 may be differenced
    shape = (-1,) + (1,) * (x.dim() - 1)
    d = (x[1:] - x[:-1]) * ok.view(shape)
    zero = torch.zeros_like(d[:1])
    fwd, bwd = torch.cat((d, zero)), torch.cat((zero, d))
    none = ok.new_zeros(1)
    count = torch.cat((ok, none)).to(x.dtype) + torch.cat((none, ok)).to(x.dtype)
    return (fwd + bwd) / (count.clamp_min(1).view(shape) * dt)


def features_index(feats: dict[str, torch.Tensor], idx) -> dict[str, torch.Tensor]:
    return {k: v[idx] for k, v in feats.items()}


def _xy(p: torch.Tensor) -> torch.Tensor:
    return torch.cat((p[..., :2], torch.zeros_like(p[..., 2:])), dim=-1)


def _turn(q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``quat_rotate`` with both operands broadcast (a grid of yaws times a row of vectors)."""
    shape = torch.broadcast_shapes(q.shape[:-1], v.shape[:-1])
    return rot.quat_rotate(q.expand(*shape, 4), v.expand(*shape, 3))


def _squared_angle(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return rot.quat_angle(rot.quat_mul(rot.quat_conj(a), b)) ** 2


def differences(src: dict, dst: dict, weights: SimilarityWeights, align: bool) -> dict[str, torch.Tensor]:
    """The mean squared differences of the terms ``weights`` uses, for broadcastable feature dicts.

    With ``align`` the dst frame is turned about z by yaw(src) - yaw(dst) and its xy moved from
    its root onto the src root; key-body and ball heights and all joint values are unchanged.
    """
    w = weights
    key_pos, ball_pos = dst["key_pos"], dst["ball_pos"]
    key_vel, ball_vel = dst["key_vel"], dst["ball_vel"]
    if align:
        q = rot.yaw_quat(rot.wrap_angle(src["yaw"] - dst["yaw"]))
        qk = q.unsqueeze(-2)
        key_pos = _turn(qk, key_pos - _xy(dst["root_pos"]).unsqueeze(-2)) + _xy(src["root_pos"]).unsqueeze(-2)
        ball_pos = _turn(q, ball_pos - _xy(dst["root_pos"])) + _xy(src["root_pos"])
        key_vel, ball_vel = _turn(qk, key_vel), _turn(q, ball_vel)
    out = {}
    if w.pos:
        out["pos"] = ((src["key_pos"] - key_pos) ** 2).mean(dim=(-2, -1))
    if w.pv:
        out["pv"] = ((src["key_vel"] - key_vel) ** 2).mean(dim=(-2, -1))
    if w.rot:
        out["rot"] = _squared_angle(src["joint_rot"], dst["joint_rot"]).mean(dim=-1)
    if w.op:
        out["op"] = ((src["ball_pos"] - ball_pos) ** 2).mean(dim=-1)
    if w.ov:
        out["ov"] = ((src["ball_vel"] - ball_vel) ** 2).mean(dim=-1)
    if w.rel:
        rel_src = src["key_pos"] - src["ball_pos"].unsqueeze(-2)
        out["rel"] = ((rel_src - (key_pos - ball_pos.unsqueeze(-2))) ** 2).mean(dim=(-2, -1))
    if w.root_rot:
        out["root_rot"] = _squared_angle(src["root_rot"], dst["root_rot"])
    if w.root_z:
        out["root_z"] = (src["root_pos"][..., 2] - dst["root_pos"][..., 2]) ** 2
    return out


def exponent(src: dict, dst: dict, weights: SimilarityWeights, align: bool = True) -> torch.Tensor:
    """``-log`` of the similarity for broadcastable feature dicts (pairs or a grid)."""
    d = differences(src, dst, weights, align)
    return sum(getattr(weights, k) * v for k, v in d.items())


def _grid(src: dict, dst: dict) -> tuple[dict, dict]:
    return {k: v.unsqueeze(1) for k, v in src.items()}, {k: v.unsqueeze(0) for k, v in dst.items()}


def similarity(src: dict, dst: dict, weights: SimilarityWeights = BALL_WEIGHTS) -> torch.Tensor:
    """``[S, D]`` similarity of S source frames with D yaw- and xy-aligned candidate frames.

    Memory grows as S * D * 52 quaternions: meant for modest batches; :func:`build_graph` searches
    a whole library with a GEMM form of the same quantity.
    """
    return torch.exp(-exponent(*_grid(src, dst), weights, align=True))


def retime_similarity(src: dict, dst: dict, skill: torch.Tensor) -> torch.Tensor:
    """``[S, D]`` similarity of S states with D frames in the world frame, for re-timing a
    perturbed state onto its own clip; ``skill`` ``[S]`` picks the weights per source row."""
    s, d = _grid(src, dst)
    ball = torch.exp(-exponent(s, d, RETIME_BALL_WEIGHTS, align=False))
    no_ball = torch.exp(-exponent(s, d, RETIME_NO_BALL_WEIGHTS, align=False))
    is_no_ball = torch.isin(skill, torch.tensor(NO_BALL_SKILLS, device=skill.device))
    return torch.where(is_no_ball.unsqueeze(1), no_ball, ball)


def search_features(feats: dict, weights: SimilarityWeights) -> tuple[torch.Tensor, torch.Tensor]:
    """Linear features H ``[N, M]`` with ``|H_s - H_d|^2`` equal to the aligned exponent without
    its rotation term, and the joint quaternions: the GEMM form :func:`build_graph` searches with.

    Alignment turns the candidate by yaw(src) - yaw(dst) about its root; expressing both frames in
    their own heading frame (turned by -yaw about the root) is the same comparison.
    """
    w = weights
    yaw = feats["yaw"]
    q = rot.yaw_quat(-yaw)
    root, ball = feats["root_pos"], feats["ball_pos"]
    key = feats["key_pos"]
    qk = q.unsqueeze(-2)
    parts = []  # (value [N, n, 3], weight, count): xy in the heading frame, z as is
    parts.append((rot.quat_rotate(qk, key - _xy(root).unsqueeze(-2)), w.pos, 51))
    parts.append((rot.quat_rotate(qk, feats["key_vel"]), w.pv, 51))
    parts.append((rot.quat_rotate(q, ball - _xy(root)).unsqueeze(-2), w.op, 3))
    parts.append((rot.quat_rotate(q, feats["ball_vel"]).unsqueeze(-2), w.ov, 3))
    parts.append((rot.quat_rotate(qk, key - ball.unsqueeze(-2)), w.rel, 51))
    cols = [v.flatten(1) * (wt / n) ** 0.5 for v, wt, n in parts if wt]
    if w.root_z:
        cols.append(root[:, 2:] * w.root_z**0.5)
    return torch.cat(cols, dim=1), feats["joint_rot"]
