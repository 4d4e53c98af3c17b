"""Quaternion and rotation helpers on torch tensors.

Convention: quaternions are ``(w, x, y, z)`` like MuJoCo, with any leading batch shape.
The world is z-up. All functions are pure and differentiable.
"""

from __future__ import annotations

import torch

_EPS = 1e-9


def normalize(q: torch.Tensor) -> torch.Tensor:
    return q / q.norm(dim=-1, keepdim=True).clamp_min(_EPS)


def quat_mul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack(
        (
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ),
        dim=-1,
    )


def quat_conj(q: torch.Tensor) -> torch.Tensor:
    return torch.cat((q[..., :1], -q[..., 1:]), dim=-1)


def quat_rotate(q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Rotate vectors ``v`` by unit quaternions ``q`` (broadcasting over leading dims)."""
    w, u = q[..., :1], q[..., 1:]
    t = 2.0 * torch.cross(u.expand_as(v), v, dim=-1)
    return v + w * t + torch.cross(u.expand_as(v), t, dim=-1)


def quat_from_rotvec(rv: torch.Tensor) -> torch.Tensor:
    """Exponential map: axis-angle vector -> unit quaternion."""
    angle = rv.norm(dim=-1, keepdim=True)
    half = 0.5 * angle
    # sin(half)/angle with its series near zero, so small rotations stay exact.
    k = torch.where(angle < 1e-6, 0.5 - angle**2 / 48.0, torch.sin(half) / angle.clamp_min(1e-12))
    return torch.cat((torch.cos(half), rv * k), dim=-1)


def quat_to_rotvec(q: torch.Tensor) -> torch.Tensor:
    """Logarithm map: unit quaternion -> axis-angle vector with angle in [0, pi]."""
    q = torch.where(q[..., :1] < 0, -q, q)
    vn = q[..., 1:].norm(dim=-1, keepdim=True)
    angle = 2.0 * torch.atan2(vn, q[..., :1])
    k = torch.where(vn < 1e-7, 2.0 / q[..., :1].clamp_min(1e-12), angle / vn.clamp_min(1e-12))
    return q[..., 1:] * k


def quat_axis(q: torch.Tensor, axis: int) -> torch.Tensor:
    """The world direction of the body's local x (0), y (1) or z (2) axis."""
    e = torch.zeros(q.shape[:-1] + (3,), dtype=q.dtype, device=q.device)
    e[..., axis] = 1.0
    return quat_rotate(q, e)


def axis_angle_quat(axis: int, angle: torch.Tensor) -> torch.Tensor:
    """Quaternion of a rotation by ``angle`` about a coordinate axis (0, 1, 2)."""
    half = 0.5 * angle
    q = torch.zeros(angle.shape + (4,), dtype=angle.dtype, device=angle.device)
    q[..., 0] = torch.cos(half)
    q[..., 1 + axis] = torch.sin(half)
    return q


def quat_from_hinges(angles: torch.Tensor) -> torch.Tensor:
    """Local rotation of a joint made of three serial hinges about x, then y, then z.

    ``angles[..., 3]`` -> quaternion ``qx(a) * qy(b) * qz(c)`` (intrinsic x-y-z).

    Closed form of that product from the half-angle cosines and sines; the products are grouped
    as ``quat_mul`` groups them, so the result is the same bit for bit.
    """
    half = 0.5 * angles
    cx, cy, cz = torch.cos(half).unbind(-1)
    sx, sy, sz = torch.sin(half).unbind(-1)
    pw, px, py, pz = cx * cy, sx * cy, cx * sy, sx * sy  # qx(a) * qy(b)
    return torch.stack((pw * cz - pz * sz, px * cz + py * sz, py * cz - px * sz, pw * sz + pz * cz), dim=-1)


def quat_to_matrix(q: torch.Tensor) -> torch.Tensor:
    w, x, y, z = normalize(q).unbind(-1)
    return torch.stack(
        (
            1 - 2 * (y * y + z * z),
            2 * (x * y - w * z),
            2 * (x * z + w * y),
            2 * (x * y + w * z),
            1 - 2 * (x * x + z * z),
            2 * (y * z - w * x),
            2 * (x * z - w * y),
            2 * (y * z + w * x),
            1 - 2 * (x * x + y * y),
        ),
        dim=-1,
    ).reshape(q.shape[:-1] + (3, 3))


def hinges_from_quat(q: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`quat_from_hinges`: intrinsic x-y-z angles, each in (-pi, pi].

    With R = Rx(a) Ry(b) Rz(c): R[0,2] = sin b, R[1,2] = -sin a cos b, R[2,2] = cos a cos b,
    R[0,1] = -cos b sin c, R[0,0] = cos b cos c.
    """
    r = quat_to_matrix(q)
    b = torch.asin(r[..., 0, 2].clamp(-1.0, 1.0))
    a = torch.atan2(-r[..., 1, 2], r[..., 2, 2])
    c = torch.atan2(-r[..., 0, 1], r[..., 0, 0])
    return torch.stack((a, b, c), dim=-1)


def sign_continuous(q: torch.Tensor) -> torch.Tensor:
    """Flip quaternions along dim 0 (time) so consecutive ones have a non-negative dot product."""
    dots = (q[1:] * q[:-1]).sum(-1)
    flips = torch.cumsum((dots < 0).to(torch.int64), dim=0) % 2
    sign = torch.cat((torch.ones_like(flips[:1]), 1 - 2 * flips))
    return q * sign.unsqueeze(-1).to(q.dtype)


def quat_angle(q: torch.Tensor) -> torch.Tensor:
    """Rotation angle in [0, pi] of unit quaternions (geodesic distance to identity)."""
    return 2.0 * torch.atan2(q[..., 1:].norm(dim=-1), q[..., 0].abs())


def heading_angle(q: torch.Tensor) -> torch.Tensor:
    """Yaw of the body's local x-axis projected on the ground plane.

    The humanoid is authored y-up, so its local x-axis (the character's left) stays horizontal
    when upright and its yaw is a stable heading. Upstream uses the same axis.
    """
    x = quat_axis(q, 0)
    return torch.atan2(x[..., 1], x[..., 0])


def yaw_quat(angle: torch.Tensor) -> torch.Tensor:
    """Quaternion of a rotation about world z."""
    return axis_angle_quat(2, angle)


def tan_norm(q: torch.Tensor) -> torch.Tensor:
    """6-d rotation feature: the rotated local x- and z-axes, concatenated."""
    return torch.cat((quat_axis(q, 0), quat_axis(q, 2)), dim=-1)


def wrap_angle(a: torch.Tensor) -> torch.Tensor:
    """Wrap angles to [-pi, pi)."""
    return torch.remainder(a + torch.pi, 2 * torch.pi) - torch.pi
