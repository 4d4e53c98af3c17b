"""SMPL-X joints <-> our humanoid's 53 bodies, and the axis conventions of both.

Rest pose. Our humanoid (``skillmimic/humanoid.py``) is authored like SMPL-X: y-up, facing +z,
+x is the character's left, a T-pose with straight fingers, and every body frame has the
identity orientation at rest, as every SMPL-X joint frame does (flat hand). A local joint rotation
therefore means the same on both skeletons and is copied as is: exact both ways and independent of
``betas``. Only the rest bones differ, so the same rotations give a slightly different posture:
against SMPL-X's neutral template our skeleton is taller (hip to knee 0.46 vs 0.38 m), its upper
arms are level where SMPL-X's slope about 16 deg down (and 9 deg back), its thighs hang straight
where SMPL-X's splay about 8 deg out; an imported pose thus holds our upper arms about 16 deg
higher than the source's. A per-joint rest-pose correction would remove that, but it would tie
the mapping to one body shape (``betas``) and lose exactness; the plain copy is kept.

Up axis. A BallPlay root rotation carries the y-up body into the z-up world, exactly as AMASS's
z-up ``global_orient`` does: ``root_rot = R_up * global_orient`` with ``R_up`` the identity for a
z-up file and +90 deg about x for a y-up one (x, y, z) -> (x, -z, y). Positions take the same
``R_up``.

Joint table (SMPL-X index and name -> our body; our bodies are in the data's order):

    0  pelvis        Pelvis (root)     13  left_collar      L_Thorax
    1  left_hip      L_Hip             14  right_collar     R_Thorax
    2  right_hip     R_Hip             15  head             Head
    3  spine1        Torso             16  left_shoulder    L_Shoulder
    4  left_knee     L_Knee            17  right_shoulder   R_Shoulder
    5  right_knee    R_Knee            18  left_elbow       L_Elbow
    6  spine2        Spine             19  right_elbow      R_Elbow
    7  left_ankle    L_Ankle           20  left_wrist       L_Wrist
    8  right_ankle   R_Ankle           21  right_wrist      R_Wrist
    9  spine3        Spine2            22-24  jaw, eyes     (none)
   10  left_foot     L_Toe             25-39  left_index1 .. left_thumb3    L_Index1 .. L_Thumb3
   11  right_foot    R_Toe             40-54  right_index1 .. right_thumb3  R_Index1 .. R_Thumb3
   12  neck          Neck              (none)               Chest (identity)

Fingers keep SMPL-X's order (index, middle, pinky, ring, thumb; 1-3 from the palm out), which is
also ours.

Our spine has four bodies where SMPL-X has three. By tree, ``Chest`` is the extra one: it is the
parent of Neck and both Thoraxes (SMPL-X's spine3 is the parent of neck and collars), and with it
skipped the two trees have the same parent links. By height it agrees: Torso/Spine/Spine2 sit
0.09/0.19/0.30 m above the pelvis at rest, SMPL-X's spine1/2/3 0.11/0.24/0.29 m (neutral model);
Chest (0.47 m) lies level with the shoulders. Import gives Chest the identity; export folds
Chest's rotation into its three children, which keeps the world orientation of every other body
exact and moves those three joints by at most |offset| * angle (8.5 cm * Chest's angle). The jaw
and eyes are dropped on import and zero on export. Chest's recorded position on import lies on
the spine3 -> neck segment at our rest proportion (0.66).
"""

from __future__ import annotations

import torch

from skillmimic import rotations as rot
from skillmimic.humanoid import BODY_NAMES, BODY_OFFSETS, BODY_PARENTS, NUM_BODIES, body_index

SMPLX_JOINTS: tuple[str, ...] = (
    "pelvis",
    "left_hip",
    "right_hip",
    "spine1",
    "left_knee",
    "right_knee",
    "spine2",
    "left_ankle",
    "right_ankle",
    "spine3",
    "left_foot",
    "right_foot",
    "neck",
    "left_collar",
    "right_collar",
    "head",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "jaw",
    "left_eye",
    "right_eye",
) + tuple(
    f"{side}_{f}{i}"
    for side in ("left", "right")
    for f in ("index", "middle", "pinky", "ring", "thumb")
    for i in (1, 2, 3)
)
NUM_SMPLX_JOINTS = len(SMPLX_JOINTS)  # 55
SMPLX_PARENTS: tuple[int, ...] = (
    (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 15, 15, 15)
    + tuple(20 if i % 3 == 0 else 25 + i - 1 for i in range(15))
    + tuple(21 if i % 3 == 0 else 40 + i - 1 for i in range(15))
)
HAND_JOINTS = (20, 21) + tuple(range(25, 55))  # wrists and fingers: their vertices make contact
FOOT_JOINTS = (7, 8, 10, 11)  # ankles and feet: their vertices define the ground

_BODY_SMPLX = {
    "Pelvis": "pelvis",
    "L_Hip": "left_hip",
    "L_Knee": "left_knee",
    "L_Ankle": "left_ankle",
    "L_Toe": "left_foot",
    "R_Hip": "right_hip",
    "R_Knee": "right_knee",
    "R_Ankle": "right_ankle",
    "R_Toe": "right_foot",
    "Torso": "spine1",
    "Spine": "spine2",
    "Spine2": "spine3",
    "Neck": "neck",
    "Head": "head",
} | {
    f"{s}_{ours}": f"{side}_{theirs}"
    for s, side in (("L", "left"), ("R", "right"))
    for ours, theirs in [("Thorax", "collar"), ("Shoulder", "shoulder"), ("Elbow", "elbow"), ("Wrist", "wrist")]
    + [(f"{f}{i}", f"{f.lower()}{i}") for f in ("Index", "Middle", "Pinky", "Ring", "Thumb") for i in (1, 2, 3)]
}
UNMAPPED = "Chest"
# SMPL-X joint index of each of our 53 bodies, -1 for Chest
SMPLX_OF_BODY: tuple[int, ...] = tuple(
    SMPLX_JOINTS.index(_BODY_SMPLX[n]) if n in _BODY_SMPLX else -1 for n in BODY_NAMES
)
_CHEST = body_index(UNMAPPED)
_CHEST_CHILDREN = tuple(b for b in range(NUM_BODIES) if BODY_PARENTS[b] == _CHEST)
# where Chest sits on the spine3 -> neck segment at rest
_CHEST_FRACTION = float(
    torch.tensor(BODY_OFFSETS[_CHEST]).norm()
    / (torch.tensor(BODY_OFFSETS[_CHEST]).norm() + torch.tensor(BODY_OFFSETS[body_index("Neck")]).norm())
)

# +90 deg about x: a y-up file's world into our z-up world
Y_UP_TO_Z_UP = torch.tensor([0.5**0.5, 0.5**0.5, 0.0, 0.0], dtype=torch.float64)


def up_quat(up: str) -> torch.Tensor:
    """The rotation from a file's world (``"y"`` or ``"z"`` up) into ours (float64 (w, x, y, z))."""
    return Y_UP_TO_Z_UP.clone() if up == "y" else torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=torch.float64)


def ours_from_smplx(pose: torch.Tensor) -> torch.Tensor:
    """Local quaternions ``[..., 52, 4]`` of our joints from SMPL-X's 55 local quaternions
    ``[..., 55, 4]`` (index 0, the global orientation, is not a joint of ours)."""
    ident = torch.zeros(pose.shape[:-2] + (1, 4), dtype=pose.dtype)
    ident[..., 0] = 1.0
    padded = torch.cat((pose, ident), dim=-2)  # index 55: identity for Chest
    idx = torch.tensor([j if j >= 0 else NUM_SMPLX_JOINTS for j in SMPLX_OF_BODY[1:]])
    return padded[..., idx, :]


def fold_unmapped(joints: torch.Tensor) -> torch.Tensor:
    """Our local joint quaternions ``[..., 52, 4]`` with Chest's rotation moved into its children:
    the same world orientation for every other body, representable in SMPL-X."""
    out = joints.clone()
    chest = joints[..., _CHEST - 1, :]
    for b in _CHEST_CHILDREN:
        out[..., b - 1, :] = rot.quat_mul(chest, joints[..., b - 1, :])
    out[..., _CHEST - 1, :] = torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=joints.dtype)
    return out


def smplx_from_ours(root: torch.Tensor, joints: torch.Tensor) -> torch.Tensor:
    """SMPL-X's 55 local quaternions ``[..., 55, 4]`` from a global orientation ``[..., 4]`` and our
    joints ``[..., 52, 4]`` (Chest folded into its children; jaw and eyes at identity)."""
    folded = fold_unmapped(joints)
    out = torch.zeros(joints.shape[:-2] + (NUM_SMPLX_JOINTS, 4), dtype=joints.dtype)
    out[..., 0] = 1.0
    out[..., 0, :] = root
    for b in range(1, NUM_BODIES):
        if SMPLX_OF_BODY[b] >= 0:
            out[..., SMPLX_OF_BODY[b], :] = folded[..., b - 1, :]
    return out


def bodies_from_smplx_joints(joints: torch.Tensor) -> torch.Tensor:
    """Our 53 body positions ``[..., 53, 3]`` from SMPL-X's 55 joint positions ``[..., 55, 3]``."""
    idx = torch.tensor([max(j, 0) for j in SMPLX_OF_BODY])
    out = joints[..., idx, :].clone()
    s3, neck = joints[..., SMPLX_JOINTS.index("spine3"), :], joints[..., SMPLX_JOINTS.index("neck"), :]
    out[..., _CHEST, :] = s3 + _CHEST_FRACTION * (neck - s3)
    return out
