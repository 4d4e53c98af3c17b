"""``skillmimic play``: watch a policy (or the reference clips) in MuJoCo's viewer or as a video.

With a display and no ``--video`` the interactive viewer opens; keys switch the skill the
policy is conditioned on (``KEYS``). Without a display, or with ``--video``, frames are rendered
offscreen, one per 60 Hz control step, with a caption naming the skill. ``--ghost`` draws the
reference pose as a translucent second character.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace

import mujoco
import torch

from skillmimic.envs.imitation import ImitationEnv
from skillmimic.envs.sampling import FixedStartSampler
from skillmimic.errors import SkillMimicError
from skillmimic.humanoid import build_render_model
from skillmimic.learning.policy import load_policy
from skillmimic.motion.library import MotionLibrary
from skillmimic.sim.factory import make_simulator
from skillmimic.sim.state import SimState, state_to_qpos_qvel
from skillmimic.skills import skill_name
from skillmimic.viewer.keys import KEY_HELP, skill_for_key
from skillmimic.viewer.replay import clip_rows, render_motion
from skillmimic.viewer.video import OffscreenRenderer, VideoWriter


class Playback:
    """One simulated world driven by a policy, conditioned on a skill the user can change."""

    def __init__(
        self,
        checkpoint: str,
        motion: str,
        skill: int | None,
        seconds: float | None,
        ghost: bool,
        device: str = "auto",
        backend: str = "auto",
    ):
        """``seconds``: length of the episode (None: until the viewer closes)."""
        self.policy, cfg = load_policy(checkpoint, device, backend)
        dev = cfg.sim.device
        self.lib = MotionLibrary.load(motion, dev, cfg.skill, cfg.retarget_ball)
        self.policy.check_motion(self.lib)
        skill = skill if skill is not None else int(self.lib.skill_ids[0])
        if skill not in self.policy.skills:
            raise SkillMimicError(
                f"--skill {skill:03d} ({skill_name(skill)}): the policy knows "
                f"{', '.join(f'{s:03d} {skill_name(s)}' for s in self.policy.skills)}"
            )
        matching = (self.lib.skill_ids == skill).nonzero().flatten()
        clip = int(matching[0]) if len(matching) else 0
        sim = make_simulator(cfg.sim.backend, 1, dev, cfg.scene, cfg.sim_config())
        self.control_dt = sim.control_dt
        self.total_steps = max(1, round(seconds / self.control_dt)) if seconds is not None else 10**9
        env_cfg = replace(cfg.env, episode_length=self.total_steps, reference_ends_episode=False)
        start = FixedStartSampler(torch.tensor([clip], device=dev), torch.zeros(1, dtype=torch.long, device=dev))
        self.env = ImitationEnv(
            self.lib, sim, env_cfg, cfg.reward, sampler=start, history_encoder=self.policy.history_encoder
        )
        self.env.set_skill(skill)
        self.obs = self.env.reset()
        self.model = build_render_model(cfg.scene, ghost)
        self.data = mujoco.MjData(self.model)
        self.ghost = ghost
        self.steps = 0
        self.sync_render()

    @property
    def skill(self) -> int:
        return int(self.env.skill[0])

    def set_skill(self, skill: int) -> None:
        self.env.set_skill(skill)
        self.obs = self.env.observe()

    def step(self) -> None:
        self.obs, _, _, _ = self.env.step(self.policy.act(self.obs))
        self.steps += 1
        self.sync_render()

    def sync_render(self) -> None:
        qpos = self.env.sim.qpos[0]
        if self.ghost:
            ref, _ = state_to_qpos_qvel(SimState.from_motion(self.env.reference()))
            qpos = torch.cat((qpos, ref[0]))
        self.data.qpos[:] = qpos.double().cpu().numpy()
        mujoco.mj_kinematics(self.model, self.data)

    def caption(self) -> str:
        return (
            f"{skill_name(self.skill)} ({self.skill:03d})  t {self.steps * self.control_dt:5.2f} s  "
            f"policy epoch {self.policy.epoch}" + ("  ghost: reference" if self.ghost else "")
        )


def play(
    checkpoint: str | None,
    motion: str,
    skill: int | None = None,
    video: str | None = None,
    seconds: float = 10.0,
    dataset: bool = False,
    ghost: bool = False,
    width: int = 640,
    height: int = 480,
    device: str = "auto",
    backend: str = "auto",
) -> str:
    offscreen = video is not None or not os.environ.get("DISPLAY")
    video = video or "play.mp4"
    if dataset:
        lib = MotionLibrary.load(motion)
        clips = None if skill is None else (lib.skill_ids == skill).nonzero().flatten().tolist()
        if clips == []:
            raise SkillMimicError(f"--skill {skill:03d}: no clip of that skill in {motion}")
        if offscreen:
            n = render_motion(lib, video, width, height, clips=clips)
            return f"wrote {video} ({n} frames, reference clips)"
        return _view_dataset(lib, clips)
    if checkpoint is None:
        raise SkillMimicError("play needs --checkpoint (or --dataset to play the reference clips)")
    pb = Playback(checkpoint, motion, skill, seconds if offscreen else None, ghost, device, backend)
    if not offscreen:
        return _view_policy(pb)
    renderer = OffscreenRenderer(pb.model, width, height)
    with VideoWriter(video, round(1 / pb.control_dt)) as out:
        out.write(renderer.render(pb.data, pb.caption()))
        for _ in range(pb.total_steps - 1):
            pb.step()
            out.write(renderer.render(pb.data, pb.caption()))
    renderer.close()
    return f"wrote {video} ({out.frames} frames, {skill_name(pb.skill)})"


def _view_policy(pb: Playback) -> str:  # pragma: no cover - needs a display
    import mujoco.viewer

    pending: list[int] = []
    with mujoco.viewer.launch_passive(pb.model, pb.data, key_callback=pending.append) as viewer:
        while viewer.is_running():
            tick = time.perf_counter()
            while pending:
                sid = skill_for_key(pending.pop(0), pb.policy.skills)
                if sid is not None:
                    pb.set_skill(sid)
            with viewer.lock():
                pb.step()
            viewer.set_texts(
                [
                    (None, mujoco.mjtGridPos.mjGRID_TOPLEFT, pb.caption(), ""),
                    (None, mujoco.mjtGridPos.mjGRID_BOTTOMLEFT, KEY_HELP, ""),
                ]
            )
            viewer.sync()
            time.sleep(max(0.0, pb.control_dt - (time.perf_counter() - tick)))
    return "viewer closed"


def _view_dataset(lib: MotionLibrary, clips) -> str:  # pragma: no cover - needs a display
    import mujoco.viewer

    model = build_render_model()
    data = mujoco.MjData(model)
    qpos, _ = state_to_qpos_qvel(SimState.from_motion(lib.frames))
    rows = clip_rows(lib, clips)
    with mujoco.viewer.launch_passive(model, data) as viewer:
        i = 0
        while viewer.is_running():
            row = rows[i % len(rows)]
            with viewer.lock():
                data.qpos[:] = qpos[row].double().numpy()
                mujoco.mj_kinematics(model, data)
            c = int(lib.frame_clip[row])
            viewer.set_texts((None, mujoco.mjtGridPos.mjGRID_TOPLEFT, f"{lib.names[c]} [{lib.skill_names[c]}]", ""))
            viewer.sync()
            time.sleep(1 / lib.fps)
            i += 1
    return "viewer closed"
