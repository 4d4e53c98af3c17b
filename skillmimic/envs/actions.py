"""Policy actions -> PD targets, with the fingers optionally held at a per-skill pose.

Actions are joint-angle targets scaled by pi and clipped to [-1, 1] (upstream). With
``env.residual_actions`` = s > 0 (a tracking teacher) they are offsets instead: target = the next
reference frame's joint angle + s * pi * action, so a zero action follows the reference. With
``env.fingers: skill_pose`` the policy outputs only the 66 hinges of ``BODY_DOFS``; the 90 finger
hinges get the mean finger pose of the commanded skill over the training clips. The pose table
travels in the policy's checkpoint, so playback and evaluation hold the same pose whatever clips
they load.
"""

from __future__ import annotations

import math

import torch

from skillmimic.config import FINGER_MODES
from skillmimic.errors import SkillMimicError
from skillmimic.humanoid import BODY_DOFS, FINGER_DOFS, NUM_DOFS
from skillmimic.skills import NUM_SKILL_SLOTS


def action_dofs(fingers: str) -> tuple[int, ...]:
    """The hinges the policy drives, in action order."""
    if fingers not in FINGER_MODES:
        raise SkillMimicError(f"env.fingers: expected one of {', '.join(FINGER_MODES)}, got {fingers!r}")
    return tuple(range(NUM_DOFS)) if fingers == "policy" else BODY_DOFS


def skill_finger_pose(lib) -> torch.Tensor:
    """[NUM_SKILL_SLOTS, 90] mean finger hinges per skill over the valid frames of ``lib``; skills
    without clips get the mean over all frames (a neutral hand, never garbage)."""
    valid = lib.valid
    fingers = lib.frames.dof_pos[:, list(FINGER_DOFS)][valid]
    skills = lib.skill_ids[lib.frame_clip][valid]
    sums = torch.zeros(NUM_SKILL_SLOTS, len(FINGER_DOFS), device=fingers.device).index_add_(0, skills, fingers)
    counts = torch.bincount(skills, minlength=NUM_SKILL_SLOTS).unsqueeze(1)
    return torch.where(counts > 0, sums / counts.clamp_min(1), fingers.mean(0))


def check_finger_pose(pose, where: str) -> torch.Tensor:
    pose = torch.as_tensor(pose, dtype=torch.float32)
    if pose.shape != (NUM_SKILL_SLOTS, len(FINGER_DOFS)) or not bool(torch.isfinite(pose).all()):
        raise SkillMimicError(
            f"{where}: finger pose table must be finite with shape [{NUM_SKILL_SLOTS}, {len(FINGER_DOFS)}], "
            f"got {list(pose.shape)}"
        )
    return pose


class ActionMap:
    """[N, A] actions -> [N, 156] PD targets for one env: ``fingers`` "policy" (A = 156) or
    "skill_pose" (A = 66; the fingers take ``finger_pose[skill]``, by default the table of ``lib``)."""

    def __init__(self, fingers: str, lib, finger_pose: torch.Tensor | None = None, residual: float = 0.0):
        self.dofs = torch.tensor(action_dofs(fingers), device=lib.device)
        self.residual = residual  # > 0: actions are offsets around the reference, scaled by this
        self.num_actions = len(self.dofs)
        self.finger_pose = None  # [NUM_SKILL_SLOTS, 90] when the fingers are held
        self._hold = None  # the same in [NUM_SKILL_SLOTS, 156] rows, body hinges 0
        if fingers == "skill_pose":
            pose = skill_finger_pose(lib) if finger_pose is None else check_finger_pose(finger_pose, "finger_pose")
            self.finger_pose = pose.to(lib.device)
            self._hold = self.finger_pose.new_zeros(NUM_SKILL_SLOTS, NUM_DOFS)
            self._hold[:, list(FINGER_DOFS)] = self.finger_pose

    def __call__(self, actions: torch.Tensor, skills: torch.Tensor, reference: torch.Tensor | None = None):
        """PD targets; ``reference`` [N, 156]: the next reference frame's joint angles (residual mode)."""
        if self.residual > 0:
            assert reference is not None, "residual actions are offsets from the reference"
            targets = reference.index_select(1, self.dofs) + self.residual * math.pi * actions.clamp(-1.0, 1.0)
        else:
            targets = math.pi * actions.clamp(-1.0, 1.0)
        if self._hold is None:
            return targets
        return self._hold[skills].index_copy_(1, self.dofs, targets)
