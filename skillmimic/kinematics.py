"""Forward kinematics of the humanoid in torch, batched over any leading shape.

It mirrors MuJoCo's kinematics for our model (body frames have identity rest orientation,
hinges sit at body origins) and is tested against ``mujoco.mj_kinematics``.
"""

from __future__ import annotations

import torch

from skillmimic import rotations as rot
from skillmimic.humanoid import BODY_OFFSETS, BODY_PARENTS, NUM_BODIES


def forward_kinematics(
    root_pos: torch.Tensor, root_rot: torch.Tensor, dof_pos: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """World body positions ``[..., 53, 3]`` and orientations ``[..., 53, 4]``.

    ``root_rot`` is a (w, x, y, z) quaternion, ``dof_pos`` the 156 hinge angles.
    """
    local = rot.quat_from_hinges(dof_pos.reshape(dof_pos.shape[:-1] + (-1, 3)))
    offsets = torch.as_tensor(BODY_OFFSETS, dtype=root_pos.dtype, device=root_pos.device)
    pos = [root_pos]
    quat = [root_rot]
    for b in range(1, NUM_BODIES):
        p = BODY_PARENTS[b]
        pos.append(pos[p] + rot.quat_rotate(quat[p], offsets[b].expand_as(root_pos)))
        quat.append(rot.quat_mul(quat[p], local[..., b - 1, :]))
    return torch.stack(pos, dim=-2), torch.stack(quat, dim=-2)
