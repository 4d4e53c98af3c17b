"""Full simulator state of a batch of worlds and its mapping to MuJoCo ``qpos``/``qvel``.

Layout of the scene's generalized coordinates:
``qpos = [root pos 3 | root quat 4 | 156 hinges | ball pos 3 | ball quat 4]`` (170) and
``qvel = [root lin vel 3 | root ang vel 3 | 156 hinge vel | ball lin vel 3 | ball ang vel 3]`` (168).
MuJoCo keeps a free joint's angular velocity in the body's local frame; ``SimState`` keeps every
velocity in the world frame, and the conversion happens here.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch

from skillmimic import rotations as rot
from skillmimic.humanoid import NUM_DOFS

NQ = 7 + NUM_DOFS + 7
NV = 6 + NUM_DOFS + 6
_D = NUM_DOFS


@dataclass
class SimState:
    root_pos: torch.Tensor  # [N, 3]
    root_rot: torch.Tensor  # [N, 4] (w, x, y, z)
    root_vel: torch.Tensor  # [N, 3] world
    root_ang_vel: torch.Tensor  # [N, 3] world
    dof_pos: torch.Tensor  # [N, 156]
    dof_vel: torch.Tensor  # [N, 156]
    ball_pos: torch.Tensor  # [N, 3]
    ball_rot: torch.Tensor  # [N, 4]
    ball_vel: torch.Tensor  # [N, 3] world
    ball_ang_vel: torch.Tensor  # [N, 3] world

    @classmethod
    def from_motion(cls, m) -> SimState:
        """The simulator state of reference frames (a ``MotionState``)."""
        return cls(**{f.name: getattr(m, f.name) for f in fields(cls)})

    def index(self, idx) -> SimState:
        return SimState(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    def to(self, device) -> SimState:
        return SimState(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})


def state_to_qpos_qvel(s: SimState) -> tuple[torch.Tensor, torch.Tensor]:
    root_rot = rot.normalize(s.root_rot)
    ball_rot = rot.normalize(s.ball_rot)
    qpos = torch.cat((s.root_pos, root_rot, s.dof_pos, s.ball_pos, ball_rot), dim=-1)
    qvel = torch.cat(
        (
            s.root_vel,
            rot.quat_rotate(rot.quat_conj(root_rot), s.root_ang_vel),
            s.dof_vel,
            s.ball_vel,
            rot.quat_rotate(rot.quat_conj(ball_rot), s.ball_ang_vel),
        ),
        dim=-1,
    )
    return qpos, qvel


def qpos_qvel_to_state(qpos: torch.Tensor, qvel: torch.Tensor) -> SimState:
    root_rot = qpos[..., 3:7]
    ball_rot = qpos[..., 10 + _D : 14 + _D]
    return SimState(
        root_pos=qpos[..., 0:3],
        root_rot=root_rot,
        root_vel=qvel[..., 0:3],
        root_ang_vel=rot.quat_rotate(root_rot, qvel[..., 3:6]),
        dof_pos=qpos[..., 7 : 7 + _D],
        dof_vel=qvel[..., 6 : 6 + _D],
        ball_pos=qpos[..., 7 + _D : 10 + _D],
        ball_rot=ball_rot,
        ball_vel=qvel[..., 6 + _D : 9 + _D],
        ball_ang_vel=rot.quat_rotate(ball_rot, qvel[..., 9 + _D : 12 + _D]),
    )


def standing_state(n: int, ball_xy: tuple[float, float] = (0.6, 0.0)) -> SimState:
    """N copies of the rest pose (all hinges at zero) standing on the floor, facing +y, at rest,
    with the ball resting on the floor beside it. A data-free start for benchmarks and tests.

    Feet and ball start 1 mm into the floor: exactly touching (distance 0) would leave it to
    rounding whether a contact exists at the first step.
    """
    import mujoco

    from skillmimic.humanoid import BALL_RADIUS, build_model

    up = torch.tensor([[0.5**0.5, 0.5**0.5, 0.0, 0.0]])  # +90 deg about x: the y-up model stands up
    model = build_model()
    data = mujoco.MjData(model)
    data.qpos[3:7] = up[0].numpy()
    data.qpos[-7:-4] = (10.0, 0.0, 1.0)
    mujoco.mj_kinematics(model, data)
    lowest = min(_geom_bottom(model, data, g) for g in range(model.ngeom) if 1 <= model.geom_bodyid[g] <= 53)
    z = lambda k: torch.zeros(n, k)  # noqa: E731
    return SimState(
        root_pos=torch.tensor([[0.0, 0.0, -float(lowest) - _SINK]]).repeat(n, 1),
        root_rot=up.repeat(n, 1),
        root_vel=z(3),
        root_ang_vel=z(3),
        dof_pos=z(NUM_DOFS),
        dof_vel=z(NUM_DOFS),
        ball_pos=torch.tensor([[ball_xy[0], ball_xy[1], BALL_RADIUS - _SINK]]).repeat(n, 1),
        ball_rot=torch.tensor([[1.0, 0.0, 0.0, 0.0]]).repeat(n, 1),
        ball_vel=z(3),
        ball_ang_vel=z(3),
    )


_SINK = 0.001


def _geom_bottom(model, data, g: int) -> float:
    """Lowest world z of a sphere, capsule or box geom."""
    import mujoco

    size, pos, mat = model.geom_size[g], data.geom_xpos[g], data.geom_xmat[g].reshape(3, 3)
    kind = model.geom_type[g]
    if kind == mujoco.mjtGeom.mjGEOM_SPHERE:
        return pos[2] - size[0]
    if kind == mujoco.mjtGeom.mjGEOM_CAPSULE:
        return pos[2] - abs(mat[2, 2]) * size[1] - size[0]
    return pos[2] - float(abs(mat[2]) @ size)  # box
