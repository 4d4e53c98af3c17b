import math

import torch

from skillmimic import rotations as rot


def _random_quats(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return rot.normalize(torch.randn(n, 4, generator=g, dtype=torch.float64))


def test_rotvec_roundtrip_and_matrix():
    q = _random_quats(500)
    rv = rot.quat_to_rotvec(q)
    assert (rv.norm(dim=-1) <= math.pi + 1e-9).all()
    q2 = rot.quat_from_rotvec(rv)
    # same rotation (q and -q are equal rotations)
    assert torch.allclose(
        rot.quat_angle(rot.quat_mul(q, rot.quat_conj(q2))), torch.zeros(500, dtype=q.dtype), atol=1e-7
    )
    v = torch.randn(500, 3, dtype=q.dtype)
    assert torch.allclose(rot.quat_rotate(q, v), (rot.quat_to_matrix(q) @ v.unsqueeze(-1)).squeeze(-1), atol=1e-12)


def test_hinges_roundtrip_reproduces_rotation():
    q = _random_quats(1000, seed=1)
    h = rot.hinges_from_quat(q)
    q2 = rot.quat_from_hinges(h)
    err = rot.quat_angle(rot.quat_mul(q, rot.quat_conj(q2)))
    assert err.max() < 1e-6
    # a single x hinge stays a single x hinge
    hx = rot.hinges_from_quat(rot.axis_angle_quat(0, torch.tensor([0.7], dtype=torch.float64)))
    assert torch.allclose(hx, torch.tensor([[0.7, 0.0, 0.0]], dtype=torch.float64), atol=1e-12)


def test_sign_continuous_and_heading():
    q = _random_quats(50, seed=2)
    flipped = q * torch.where(torch.rand(50, 1) < 0.5, -1.0, 1.0).to(q.dtype)
    c = rot.sign_continuous(flipped)
    assert ((c[1:] * c[:-1]).sum(-1) >= 0).all()
    assert torch.allclose(c.abs(), q.abs())
    yaw = torch.tensor([0.3, -2.0], dtype=torch.float64)
    # heading of a pure yaw rotation of the y-up character (x-axis horizontal) is the yaw
    assert torch.allclose(rot.heading_angle(rot.yaw_quat(yaw)), yaw)


def test_quat_from_hinges_is_the_product_of_three_hinges():
    """The closed form equals qx(a) * qy(b) * qz(c) built from three axis quaternions, bit for bit."""
    g = torch.Generator().manual_seed(3)
    for dtype in (torch.float32, torch.float64):
        angles = (torch.rand(256, 52, 3, generator=g, dtype=torch.float64) * 4 - 2).mul(math.pi).to(dtype)
        product = rot.quat_mul(
            rot.quat_mul(rot.axis_angle_quat(0, angles[..., 0]), rot.axis_angle_quat(1, angles[..., 1])),
            rot.axis_angle_quat(2, angles[..., 2]),
        )
        closed = rot.quat_from_hinges(angles)
        assert closed.shape == (256, 52, 4) and closed.dtype == dtype
        assert torch.equal(closed, product)
    # any leading shape, and gradients flow
    a = torch.randn(2, 3, 5, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(rot.quat_from_hinges, (a,))
