"""The motion library: every clip of a dataset as flat tensors on one device.

Frames of all clips are concatenated (clip ``c`` occupies rows ``starts[c] : starts[c] +
lengths[c]``) so a batch of ``(clip, frame)`` lookups is one gather. Clip ids follow the
order of :func:`skillmimic.motion.datasets.motion_files`: sorted by relative path. Sampling
weights live elsewhere (samplers), not here.

Reference body positions and orientations come from forward kinematics of our humanoid on the
clip's root and joint values, not from the recorded body columns: the reference is then
exactly reachable by the simulated character (the recorded positions differ by ~3 cm). For the
same reason the ball is retargeted to our hands by default (``motion.retarget``); the recorded
ball track is kept in ``recorded_ball_pos``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path

import torch

from skillmimic import rotations as rot
from skillmimic.errors import SkillMimicError
from skillmimic.kinematics import forward_kinematics
from skillmimic.motion.ballplay import read_ballplay
from skillmimic.motion.clip import Clip
from skillmimic.motion.datasets import motion_files, resolve_motion
from skillmimic.motion.retarget import retarget_ball


@dataclass
class MotionState:
    """A batch of reference frames (leading dim B). Quaternions are (w, x, y, z)."""

    root_pos: torch.Tensor  # [B, 3]
    root_rot: torch.Tensor  # [B, 4]
    root_vel: torch.Tensor  # [B, 3] world frame
    root_ang_vel: torch.Tensor  # [B, 3] world frame
    dof_pos: torch.Tensor  # [B, 156]
    dof_vel: torch.Tensor  # [B, 156]
    body_pos: torch.Tensor  # [B, 53, 3] forward kinematics of our humanoid
    body_rot: torch.Tensor  # [B, 53, 4]
    ball_pos: torch.Tensor  # [B, 3]
    ball_rot: torch.Tensor  # [B, 4]
    ball_vel: torch.Tensor  # [B, 3]
    ball_ang_vel: torch.Tensor  # [B, 3]
    contact: torch.Tensor  # [B] 1 where a hand touches the ball

    def index(self, idx) -> MotionState:
        return MotionState(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    def anchored(self, yaw: torch.Tensor, shift: torch.Tensor, only: tuple[str, ...] | None = None) -> MotionState:
        """The frames moved rigidly: rotated by ``yaw`` [B] about world z through the origin, then
        shifted by ``shift`` [B, 3]. Joint values and heights (for a shift with z = 0) are kept.
        Used to re-anchor another clip's reference onto where the character stands. ``only``:
        move just these fields (the rest is returned as is)."""
        q = rot.yaw_quat(yaw)

        def rows(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:  # [B, k] -> broadcastable with like
            return x.view(x.shape[:1] + (1,) * (like.dim() - 2) + x.shape[1:])

        turn = lambda v: rot.quat_rotate(rows(q, v), v)  # noqa: E731
        spin = lambda r: rot.quat_mul(rows(q, r), r)  # noqa: E731
        lift = lambda p: turn(p) + rows(shift, p)  # noqa: E731
        how = dict(
            root_pos=lift,
            root_rot=spin,
            root_vel=turn,
            root_ang_vel=turn,
            body_pos=lift,
            body_rot=spin,
            ball_pos=lift,
            ball_rot=spin,
            ball_vel=turn,
            ball_ang_vel=turn,
        )
        return replace(self, **{k: f(getattr(self, k)) for k, f in how.items() if only is None or k in only})


class MotionLibrary:
    """All clips of a file or folder, as device tensors with batched lookup."""

    def __init__(self, clips: list[Clip], device: str | torch.device = "cpu", retarget: bool = True):
        if not clips:
            raise SkillMimicError("motion library needs at least one clip")
        fps = {c.fps for c in clips}
        if len(fps) != 1:
            raise SkillMimicError(f"clips have different frame rates {sorted(fps)}; resample them to one rate")
        self.device = torch.device(device)
        self.fps = fps.pop()
        self.dt = 1.0 / self.fps
        self.paths = [c.path for c in clips]
        self.names = [c.name for c in clips]
        self.skill_names = [c.skill_name for c in clips]
        self.recorded_body_pos = torch.cat([c.body_pos for c in clips]).to(self.device)
        self.recorded_ball_pos = torch.cat([c.ball_pos for c in clips]).to(self.device)

        cols: dict[str, list[torch.Tensor]] = {}
        for c in clips:
            body_pos, body_rot = forward_kinematics(c.root_pos.double(), c.root_rot.double(), c.dof_pos.double())
            if retarget:
                c = replace(c, ball_pos=retarget_ball(body_pos, body_rot, c.ball_pos.double(), c.contact).float())
            vel = c.velocities()
            parts = dict(
                root_pos=c.root_pos,
                root_rot=c.root_rot,
                root_vel=vel["root_vel"],
                root_ang_vel=vel["root_ang_vel"],
                dof_pos=c.dof_pos,
                dof_vel=vel["dof_vel"],
                body_pos=body_pos.float(),
                body_rot=body_rot.float(),
                ball_pos=c.ball_pos,
                ball_rot=c.ball_rot,
                ball_vel=vel["ball_vel"],
                ball_ang_vel=vel["ball_ang_vel"],
                contact=c.contact,
            )
            for k, v in parts.items():
                cols.setdefault(k, []).append(v)
        self.frames = MotionState(**{k: torch.cat(v).to(self.device, torch.float32) for k, v in cols.items()})

        self.lengths = torch.tensor([c.num_frames for c in clips], device=self.device)
        self.starts = torch.cumsum(self.lengths, 0) - self.lengths
        self.skill_ids = torch.tensor([c.skill_id for c in clips], device=self.device)
        self.frame_clip = torch.repeat_interleave(torch.arange(len(clips), device=self.device), self.lengths)
        # False on missing (all-zero, masked) frames: never a start, never a graph target, and a
        # reference frame that earns no reward of its own (the env substitutes its clip's mean)
        self.valid = torch.cat([c.valid_mask for c in clips]).to(self.device)

    @classmethod
    def load(
        cls, motion: str | Path, device: str | torch.device = "cpu", skill: int | None = None, retarget: bool = True
    ) -> MotionLibrary:
        """Load a file, a folder (recursively) or a dataset-relative name such as ``ballplay-m/layup``."""
        files = motion_files(resolve_motion(motion))
        return cls([read_ballplay(f, skill) for f in files], device, retarget)

    def hash_into(self, h) -> None:
        """Feed what derived artefacts (trajectory graph, history encoder) depend on into the hash
        ``h``: clip names, skills, lengths and the frames' root, joints, ball and validity."""
        h.update(repr((self.names, self.skill_ids.tolist(), self.lengths.tolist())).encode())
        f = self.frames
        for t in (f.root_pos, f.root_rot, f.dof_pos, f.ball_pos, self.valid):
            h.update(t.detach().cpu().contiguous().numpy().tobytes())

    @property
    def num_clips(self) -> int:
        return len(self.names)

    @property
    def num_frames(self) -> int:
        return int(self.lengths.sum())

    def flat_index(self, clip_ids: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """Row of (clip, frame) in the flat tensors; frames are clamped into the clip."""
        frames = torch.minimum(frames.clamp_min(0), self.lengths[clip_ids] - 1)
        return self.starts[clip_ids] + frames

    def get(self, clip_ids: torch.Tensor, frames: torch.Tensor) -> MotionState:
        """Reference states for a batch of (clip id, frame) pairs."""
        return self.frames.index(self.flat_index(clip_ids, frames))
