"""What ``skillmimic export`` writes out: the humanoid and ball per 60 fps frame, from a reference
clip or from a policy rollout in the simulator."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from skillmimic import rotations as rot
from skillmimic.errors import SkillMimicError
from skillmimic.humanoid import HAND_BODIES, NUM_JOINTS, body_index
from skillmimic.kinematics import forward_kinematics


@dataclass
class Track:
    """T frames at ``fps`` in our z-up world (float64); rotations are (w, x, y, z) quaternions."""

    name: str
    root_pos: torch.Tensor  # [T, 3]
    root_rot: torch.Tensor  # [T, 4]
    joints: torch.Tensor  # [T, 52, 4] local rotation of each joint
    ball_pos: torch.Tensor  # [T, 3]
    ball_rot: torch.Tensor  # [T, 4]
    contact: torch.Tensor  # [T] 1 where a hand touches the ball
    fps: float = 60.0

    @property
    def num_frames(self) -> int:
        return len(self.root_pos)

    def bodies(self) -> tuple[torch.Tensor, torch.Tensor]:
        """World positions ``[T, 53, 3]`` and orientations ``[T, 53, 4]`` of the bodies."""
        hinges = rot.hinges_from_quat(self.joints).reshape(self.num_frames, 3 * NUM_JOINTS)
        return forward_kinematics(self.root_pos, self.root_rot, hinges)

    def head(self, seconds: float | None) -> Track:
        """The first ``seconds`` (all when None)."""
        if seconds is None:
            return self
        n = max(1, min(self.num_frames, round(seconds * self.fps)))
        return Track(
            self.name,
            self.root_pos[:n],
            self.root_rot[:n],
            self.joints[:n],
            self.ball_pos[:n],
            self.ball_rot[:n],
            self.contact[:n],
            fps=self.fps,
        )


def track_from_clip(motion: str, skill: int | None = None) -> Track:
    """The first clip of ``motion`` (of skill ``skill`` when given), as recorded."""
    from skillmimic.motion.ballplay import read_ballplay
    from skillmimic.motion.datasets import motion_files, resolve_motion
    from skillmimic.skills import skill_id_from_filename

    files = motion_files(resolve_motion(motion))
    if skill is not None:
        files = [f for f in files if skill_id_from_filename(f.stem) == skill]
        if not files:
            raise SkillMimicError(f"--skill {skill:03d}: no clip of that skill in {motion}")
    c = read_ballplay(files[0])
    d = torch.float64
    return Track(
        name=c.name,
        root_pos=c.root_pos.to(d),
        root_rot=c.root_rot.to(d),
        joints=rot.quat_from_hinges(c.dof_pos.to(d).reshape(-1, NUM_JOINTS, 3)),
        ball_pos=c.ball_pos.to(d),
        ball_rot=c.ball_rot.to(d),
        contact=c.contact.to(d),
        fps=c.fps,
    )


def track_from_rollout(
    checkpoint: str,
    motion: str,
    skill: int | None = None,
    seconds: float = 10.0,
    device: str = "auto",
    backend: str = "auto",
) -> Track:
    """``seconds`` of the policy acting from the first clip of ``skill`` (as ``skillmimic play``
    starts it), one frame per 60 Hz control step; contact is the simulator's hand-ball contact."""
    from skillmimic.envs.factory import play_env, policy_motion
    from skillmimic.policy import load_policy
    from skillmimic.skills import skill_name

    if not motion:
        raise SkillMimicError("export of a policy rollout needs --motion (the clips to start from)")
    policy = load_policy(checkpoint, device, backend)
    env = play_env(policy, policy_motion(policy, motion), skill)
    total = max(1, round(seconds / env.sim.control_dt))
    hands = torch.tensor([body_index(n) for n in HAND_BODIES])
    frames = []
    obs = env.reset()
    for step in range(total):
        if step:
            obs, _, _, _ = env.step(policy.act(obs))
        s = env.sim.state()
        touch = env.sim.contacts().ball_body[0, hands.to(s.root_pos.device)].any()
        frames.append(
            [x[0].detach().cpu().double() for x in (s.root_pos, s.root_rot, s.dof_pos, s.ball_pos, s.ball_rot)]
        )
        frames[-1].append(touch.cpu().double())
    root_pos, root_rot, dof, ball_pos, ball_rot, contact = (torch.stack(x) for x in zip(*frames, strict=True))
    return Track(
        name=f"{skill_name(int(env.skill[0]))} policy",
        root_pos=root_pos,
        root_rot=rot.normalize(root_rot),
        joints=rot.quat_from_hinges(dof.reshape(-1, NUM_JOINTS, 3)),
        ball_pos=ball_pos,
        ball_rot=rot.normalize(ball_rot),
        contact=contact,
        fps=round(1.0 / env.sim.control_dt, 6),
    )
