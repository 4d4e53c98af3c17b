"""Each reward term against hand-computed values: it is 1 on a perfect match and falls by the
expected amount when only its own quantity is perturbed."""

import math

import pytest
import torch

from skillmimic import rotations as rot
from skillmimic.envs.rewards import TERMS, HOIState, imitation_reward

W = {"p": 20.0, "r": 20.0, "op": 1.0, "ig": 20.0, "cg1": 5.0, "cg2": 5.0}


def _ref() -> HOIState:
    g = torch.Generator().manual_seed(0)
    return HOIState(
        nodes=torch.randn(1, 18, 3, generator=g),
        rotations=rot.normalize(torch.randn(1, 53, 4, generator=g)),
        ball_pos=torch.randn(1, 3, generator=g),
        ball_contact=torch.ones(1),
        body_contact=torch.zeros(1),
    )


def _copy(s: HOIState, **kw) -> HOIState:
    d = dict(
        nodes=s.nodes.clone(),
        rotations=s.rotations.clone(),
        ball_pos=s.ball_pos.clone(),
        ball_contact=s.ball_contact.clone(),
        body_contact=s.body_contact.clone(),
    )
    d.update(kw)
    return HOIState(**d)


def _terms(sim, ref):
    total, terms = imitation_reward(sim, ref, W)
    return total.item(), {k: v.item() for k, v in terms.items()}


def test_perfect_match_is_one():
    ref = _ref()
    total, terms = _terms(_copy(ref), ref)
    assert total == pytest.approx(1.0) and all(v == pytest.approx(1.0) for v in terms.values())


def _only(terms, key, expected):
    assert terms[key] == pytest.approx(expected, rel=1e-5)
    for k in TERMS:
        if k != key:
            assert terms[k] == pytest.approx(1.0, abs=1e-6), k


def test_body_position_term():
    ref = _ref()
    # move every node and the ball by the same 0.1 m: positions off, the interaction graph intact...
    shift = torch.tensor([0.1, 0.0, 0.0])
    total, t = _terms(_copy(ref, nodes=ref.nodes + shift, ball_pos=ref.ball_pos + shift), ref)
    assert t["p"] == pytest.approx(math.exp(-20 * 0.01 / 3), rel=1e-5)
    assert t["op"] == pytest.approx(math.exp(-1 * 0.01 / 3), rel=1e-5)
    assert t["ig"] == pytest.approx(1.0) and total == pytest.approx(t["p"] * t["op"], rel=1e-6)


def test_rotation_term_is_geodesic():
    ref = _ref()
    theta = 0.5
    rots = ref.rotations.clone()
    rots[0, 0] = rot.quat_mul(ref.rotations[0, 0], rot.axis_angle_quat(2, torch.tensor(theta)))
    _, t = _terms(_copy(ref, rotations=rots), ref)
    # one of 53 rotations off by 0.5 rad: mean over 159 rotation-vector components = theta^2 / 159
    _only(t, "r", math.exp(-20 * theta**2 / 159))
    # q and -q are the same rotation: no error
    _, t = _terms(_copy(ref, rotations=-ref.rotations), ref)
    assert t["r"] == pytest.approx(1.0)


def test_ball_and_interaction_terms():
    ref = _ref()
    ball = ref.ball_pos + torch.tensor([0.0, 0.0, 0.3])
    _, t = _terms(_copy(ref, ball_pos=ball), ref)
    assert t["op"] == pytest.approx(math.exp(-1 * 0.09 / 3), rel=1e-5)
    # every ball->node vector changes by 0.3 in z: mean over 54 values = 0.09 / 3
    assert t["ig"] == pytest.approx(math.exp(-20 * 0.09 / 3), rel=1e-5)
    assert t["p"] == pytest.approx(1.0) and t["r"] == pytest.approx(1.0)


def test_contact_terms():
    ref = _ref()
    _, t = _terms(_copy(ref, ball_contact=torch.zeros(1)), ref)
    _only(t, "cg2", math.exp(-5))
    _, t = _terms(_copy(ref, body_contact=torch.ones(1)), ref)
    _only(t, "cg1", math.exp(-5))
    # a forbidden contact the reference itself has is not penalised
    ref_touch = _copy(ref, body_contact=torch.ones(1))
    _, t = _terms(_copy(ref, body_contact=torch.ones(1)), ref_touch)
    assert t["cg1"] == pytest.approx(1.0)


def test_weights_are_applied():
    ref = _ref()
    sim = _copy(ref, ball_contact=torch.zeros(1))
    total, terms = imitation_reward(sim, ref, {**W, "cg2": 0.0})
    assert total.item() == pytest.approx(1.0)
