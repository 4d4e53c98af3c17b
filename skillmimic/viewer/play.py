"""``skillmimic play``: watch a policy (or the reference clips) in MuJoCo's viewer or as a video.

With a display and no ``--video`` the interactive viewer opens; keys switch the skill the
policy is conditioned on (``KEYS``). Without a display, or with ``--video``, frames are rendered
offscreen, one per 60 Hz control step, with a caption naming the skill. ``--ghost`` draws the
reference pose as a translucent second character. A high-level controller (HLC) checkpoint plays
its task instead: the controller picks a skill every ``llc_steps`` control steps, the goal is drawn
as markers (``markers.py``) and goal keys move it.

``SKILLMIMIC_VIEWER_LOG=1`` makes the viewer log to stderr: when it opens, every key it acts on,
every skill change and a frame count twice a second, so a test (or a bug report) can tell what a
window did without looking at it.
"""

from __future__ import annotations

import os
import sys
import threading
import time

import mujoco
import numpy as np
import torch

from skillmimic.envs.factory import UNLIMITED, play_env, policy_motion, task_env
from skillmimic.envs.task_env import BODY_OBS, TaskEnv, TaskEnvConfig
from skillmimic.errors import SkillMimicError
from skillmimic.humanoid import build_render_model
from skillmimic.motion.library import MotionLibrary
from skillmimic.policy import ControllerPolicy, is_controller, load_policy
from skillmimic.sim.state import SimState, state_to_qpos_qvel
from skillmimic.skills import skill_name
from skillmimic.tasks import get_task
from skillmimic.tasks.common import Marker
from skillmimic.viewer.keys import (
    CAMERA_HELP,
    CAMERA_KEY,
    GOAL_HELP,
    GOAL_KEYS,
    KEYS,
    SKILL_HELP,
    goal_shift,
    key_label,
    shortcut_flags,
    skill_for_key,
    wrap_help,
)
from skillmimic.viewer.markers import add_markers
from skillmimic.viewer.replay import clip_rows, render_motion
from skillmimic.viewer.video import OffscreenRenderer, VideoWriter, fit_distance

ROOT_BODY = "Pelvis"
VIDEO_SECONDS = 10.0  # a video's length unless --seconds says otherwise


class Playback:
    """One simulated world driven by a policy, conditioned on a skill the user can change."""

    help_entries = SKILL_HELP
    episodes = 1  # a task's world restarts (new goal) after a fall

    def __init__(
        self,
        checkpoint: str,
        motion: str | None,
        skill: int | None,
        seconds: float | None,
        ghost: bool,
        device: str = "auto",
        backend: str = "auto",
        frame: int = 0,
    ):
        """``seconds``: length of the episode (None: until the viewer closes); ``frame``: the clip's
        frame the world starts at."""
        if not motion:
            raise SkillMimicError("play --checkpoint of a skill policy needs --motion (the clips to start from)")
        self.policy = load_policy(checkpoint, device, backend)
        cfg = self.policy.config
        self.lib = policy_motion(self.policy, motion)
        self.env = play_env(self.policy, self.lib, skill, frame)
        self.control_dt = self.env.sim.control_dt
        self.total_steps = max(1, round(seconds / self.control_dt)) if seconds is not None else UNLIMITED
        self.obs = self.env.reset()
        self._render_model(cfg.scene, ghost)

    def _render_model(self, scene, ghost: bool = False) -> None:
        self.model = build_render_model(scene, ghost)
        self.data = mujoco.MjData(self.model)
        self.root_body = max(1, mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_BODY, ROOT_BODY))
        self.ghost = ghost
        self.steps = 0
        self.sync_render()

    @property
    def skill(self) -> int:
        return int(self.env.skill[0])

    def set_skill(self, skill: int) -> None:
        self.env.set_skill(skill)
        self.obs = self.env.observe()

    def advance(self) -> None:
        """One control step of the simulation (the render copy is left as it was)."""
        self.obs, _, _, _ = self.env.step(self.policy.act(self.obs))
        self.steps += 1

    def step(self) -> None:
        self.advance()
        self.sync_render()

    def sim_qpos(self) -> torch.Tensor:
        return self.env.sim.qpos[0]

    def sync_render(self) -> None:
        qpos = self.sim_qpos()
        if self.ghost:
            ref, _ = state_to_qpos_qvel(SimState.from_motion(self.env.reference()))
            qpos = torch.cat((qpos, ref[0]))
        self.data.qpos[:] = qpos.double().cpu().numpy()
        mujoco.mj_kinematics(self.model, self.data)
        mujoco.mj_comPos(self.model, self.data)  # subtree_com: what the viewer's tracking camera follows

    def on_key(self, keycode: int) -> str | None:
        """Act on a key; what it did (for the log), or None when the key is not ours."""
        sid = skill_for_key(keycode, self.policy.skills)
        if sid is None:
            return None
        self.set_skill(sid)
        return f"skill {sid:03d} {skill_name(sid)}"

    def key_codes(self) -> list[int]:
        return [code for _, code, _, _ in KEYS]

    def markers(self) -> list[Marker]:
        return []

    def focus(self) -> np.ndarray:
        """Points the video camera keeps in frame: the character (at 1 m), and a task's goal."""
        q = self.data.qpos
        return np.array([[q[0], q[1], 1.0]])

    def caption(self) -> str:
        return (
            f"{skill_name(self.skill)} ({self.skill:03d})  t {self.steps * self.control_dt:5.2f} s  "
            f"policy epoch {self.policy.epoch}" + ("  ghost: reference" if self.ghost else "")
        )


class TaskPlayback(Playback):
    """One world of a high-level controller's task: the controller picks a skill every ``llc_steps``
    control steps, the skill policy performs it; keys move the goal (heading, scoring: the goal;
    circling: the centre)."""

    help_entries = GOAL_HELP
    env: TaskEnv  # type: ignore[assignment]  # not an ImitationEnv: this class overrides what uses one

    def __init__(
        self,
        checkpoint: str,
        motion: str | None,
        seconds: float | None,
        device: str = "auto",
        backend: str = "auto",
        seed: int = 0,
    ):
        self.hlc = ControllerPolicy(checkpoint, "cpu")
        self.llc = load_policy(self.hlc.llc, device, backend)
        cfg = self.llc.config
        dev = cfg.sim.device
        if dev != "cpu":
            self.hlc = ControllerPolicy(checkpoint, dev)
        self.policy = self.llc
        self.task = get_task(self.hlc.task)
        lib = policy_motion(self.llc, motion or self.hlc.config.motion)
        assert self.hlc.config.task.llc_steps is not None, "a controller's config holds its period"
        self.period = int(self.hlc.config.task.llc_steps)
        # The env steps one control step at a time (so every frame is drawn); the controller acts
        # every ``period`` of them, as its training env did in one step.
        env_cfg = TaskEnvConfig(llc_steps=1, episode_length=UNLIMITED, fall_height=self.task.CONFIG.fall_height)
        self.env = task_env(self.task, self.llc, lib, 1, env_cfg, seed)
        self.control_dt = self.env.env.sim.control_dt
        self.total_steps = max(1, round(seconds / self.control_dt)) if seconds is not None else UNLIMITED
        self.obs = self.env.reset()
        self.action = torch.zeros(1, dtype=torch.long, device=dev)
        self.episodes = 1
        self._stale_obs = False
        self._render_model(cfg.scene)
        self.start_xy = self.data.qpos[:2].copy()

    @property
    def skill(self) -> int:
        return int(self.env.env.skill[0])

    def sim_qpos(self) -> torch.Tensor:
        return self.env.env.sim.qpos[0]

    def advance(self) -> None:
        if self.steps % self.period == 0:
            if self._stale_obs:  # the goal moved since the last step: the controller sees the new one
                task_obs = self.task.observe(self.env.task_state(), self.env.goals)
                self.obs = torch.cat((self.obs[:, :BODY_OBS], task_obs), dim=1)
                self._stale_obs = False
            self.action = self.hlc.act(self.obs)
        self.obs, _, done, _ = self.env.step(self.action)
        self.steps += 1
        if bool(done[0]):  # fell (or ran out of time): the env restarted it with a new goal
            self.episodes += 1
            self.start_xy = self.sim_qpos()[:2].double().cpu().numpy()

    def goal(self) -> dict:
        return {k: v[0].detach().cpu().numpy() for k, v in self.env.goals.items()}

    def on_key(self, keycode: int) -> str | None:
        shift = goal_shift(keycode)
        if shift is None:
            return None
        key = self.task.MOVABLE
        if key is None:
            return f"task {self.task.NAME} has no goal to move"
        g = self.env.goals[key]
        g[0] += torch.tensor(shift, dtype=g.dtype, device=g.device)
        self._stale_obs = True
        x, y = g[0].tolist()
        return f"{key} ({x:+.2f}, {y:+.2f})"

    def key_codes(self) -> list[int]:
        return [code for _, code, _ in GOAL_KEYS]

    def markers(self) -> list[Marker]:
        return self.task.markers(self.goal(), self.start_xy)

    def focus(self) -> np.ndarray:
        """The character and what its task draws."""
        return np.array([super().focus()[0], *self.task.focus(self.goal(), self.start_xy)], dtype=float)

    def caption(self) -> str:
        goal = self.goal()
        where = goal.get("goal", goal.get("centre"))
        t = self.steps * self.control_dt
        text = f"task {self.task.NAME}  skill {skill_name(self.skill)} ({self.skill:03d})  t {t:5.2f} s"
        if where is not None:
            text += f"  {'goal' if 'goal' in goal else 'centre'} ({where[0]:+.1f}, {where[1]:+.1f})"
        if "radius" in goal:
            text += f"  radius {float(goal['radius']):.1f} m"
        if bool(goal["success"]):
            text += "  success"
        return text + (f"  episode {self.episodes}" if self.episodes > 1 else "")


def play(
    checkpoint: str | None,
    motion: str | None,
    skill: int | None = None,
    video: str | None = None,
    seconds: float | None = None,
    dataset: bool = False,
    ghost: bool = False,
    width: int = 640,
    height: int = 480,
    device: str = "auto",
    backend: str = "auto",
    frame: int = 0,
) -> str:
    """``seconds``: the video's length (default 10 s); in the viewer, close it after that much
    simulated time (default: when the window closes); ``frame``: a skill policy's start frame."""
    offscreen = video is not None or not os.environ.get("DISPLAY")
    video = video or "play.mp4"
    if dataset:
        if not motion:
            raise SkillMimicError("play --dataset needs --motion (the clips to play)")
        if frame:
            raise SkillMimicError("--frame is a policy's start frame: play --dataset plays whole clips")
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
    length = seconds if seconds is not None else (VIDEO_SECONDS if offscreen else None)
    if is_controller(checkpoint):
        if skill is not None or ghost or frame:
            raise SkillMimicError(
                "--skill, --ghost and --frame are for skill policies: a controller picks its own skills and starts"
            )
        pb: Playback = TaskPlayback(checkpoint, motion, length, device, backend)
    else:
        pb = Playback(checkpoint, motion, skill, length, ghost, device, backend, frame)
    if not offscreen:
        return _view_policy(pb)
    renderer = OffscreenRenderer(pb.model, width, height)
    episode = [pb.episodes]

    def image():
        if pb.episodes != episode[0]:  # a restart with a new goal: cut, not a pan
            episode[0] = pb.episodes
            renderer.reset_camera()
        marks = pb.markers()
        return renderer.render(pb.data, pb.caption(), extra_geoms=lambda scn: add_markers(scn, marks), focus=pb.focus())

    with VideoWriter(video, round(1 / pb.control_dt)) as out:
        out.write(image())
        for _ in range(pb.total_steps - 1):
            pb.step()
            out.write(image())
    renderer.close()
    what = f"task {pb.task.NAME}" if isinstance(pb, TaskPlayback) else skill_name(pb.skill)
    return f"wrote {video} ({out.frames} frames, {what})"


def _log(message: str) -> None:
    if os.environ.get("SKILLMIMIC_VIEWER_LOG", "") not in ("", "0"):
        print(f"viewer: {message}", file=sys.stderr, flush=True)


def _help_lines(pb: Playback, viewport) -> str:
    # MuJoCo's overlay font takes about 7 px a character at the viewer's default scale (9: a margin).
    width = max(20, (viewport.width if viewport is not None else 640) // 9 - 2)
    return "\n".join(wrap_help(list(pb.help_entries) + CAMERA_HELP, width))


def _track(cam, pb: Playback, distance: float) -> None:
    cam.type = mujoco.mjtCamera.mjCAMERA_TRACKING
    cam.trackbodyid = pb.root_body
    cam.distance = distance
    cam.elevation = -15.0
    cam.azimuth = 135.0
    cam.lookat[:] = pb.data.subtree_com[pb.root_body]


def _view_policy(pb: Playback) -> str:  # pragma: no cover - needs a display (tests/test_viewer_window.py)
    import mujoco.viewer

    pending: list[int] = []
    threads = set(threading.enumerate())
    with mujoco.viewer.launch_passive(
        pb.model, pb.data, key_callback=pending.append, show_left_ui=False, show_right_ui=False
    ) as viewer:
        # The viewer's render thread: joined below, or interpreter exit (glfw.terminate) can tear its
        # window down mid-frame, an X error or a crash after Ctrl+Q or the window's close button.
        threads = set(threading.enumerate()) - threads
        own = pb.key_codes() + [CAMERA_KEY[1]]
        vis_flags, rnd_flags = shortcut_flags(own)
        with viewer.lock():
            distance = fit_distance(pb.focus(), pb.focus()[0], pb.model.vis.global_.fovy, limit=10.0)
            _track(viewer.cam, pb, distance)
            held_vis = {i: int(viewer.opt.flags[i]) for i in vis_flags}
            held_rnd = {i: int(viewer.user_scn.flags[i]) for i in rnd_flags}
        vp = viewer.viewport
        _log(
            f"open {vp.width}x{vp.height}, camera tracking body {pb.root_body} ({ROOT_BODY}) at {distance:.1f} m, "
            f"skill {pb.skill:03d} {skill_name(pb.skill)}"
        )
        last_skill = pb.skill
        while viewer.is_running() and pb.steps < pb.total_steps:
            tick = time.perf_counter()
            while pending:
                code = pending.pop(0)
                if code == CAMERA_KEY[1]:
                    with viewer.lock():
                        if viewer.cam.type == mujoco.mjtCamera.mjCAMERA_TRACKING:
                            viewer.cam.type = mujoco.mjtCamera.mjCAMERA_FREE
                        else:
                            _track(viewer.cam, pb, viewer.cam.distance)
                    tracking = viewer.cam.type == mujoco.mjtCamera.mjCAMERA_TRACKING
                    _log(f"key {key_label(code)}: camera {'tracking' if tracking else 'free'}")
                    continue
                done = pb.on_key(code)
                if done is not None:
                    _log(f"key {key_label(code)}: {done}")
            pb.advance()
            if pb.skill != last_skill:
                _log(f"frame {pb.steps}: skill {last_skill:03d} -> {pb.skill:03d} {skill_name(pb.skill)}")
                last_skill = pb.skill
            marks = pb.markers()
            with viewer.lock():
                pb.sync_render()
                viewer.user_scn.ngeom = 0
                add_markers(viewer.user_scn, marks)
                for i, v in held_vis.items():  # our keys are also MuJoCo shortcuts: undo their toggles
                    viewer.opt.flags[i] = v
                for i, v in held_rnd.items():
                    viewer.user_scn.flags[i] = v
            viewer.set_texts(
                [
                    (None, mujoco.mjtGridPos.mjGRID_TOPLEFT, pb.caption(), ""),
                    (None, mujoco.mjtGridPos.mjGRID_BOTTOMLEFT, _help_lines(pb, viewer.viewport), ""),
                ]
            )
            viewer.sync()
            if pb.steps % 30 == 0:
                _log(f"frame {pb.steps} t {pb.steps * pb.control_dt:.2f} s skill {pb.skill:03d}")
            time.sleep(max(0.0, pb.control_dt - (time.perf_counter() - tick)))
    for t in threads:
        t.join(timeout=10.0)
    _log(f"closed after {pb.steps} frames")
    return f"viewer closed after {pb.steps * pb.control_dt:.1f} s"


def _view_dataset(lib: MotionLibrary, clips) -> str:  # pragma: no cover - needs a display
    import mujoco.viewer

    model = build_render_model()
    data = mujoco.MjData(model)
    qpos, _ = state_to_qpos_qvel(SimState.from_motion(lib.frames))
    rows = clip_rows(lib, clips)
    threads = set(threading.enumerate())
    with mujoco.viewer.launch_passive(model, data, show_left_ui=False, show_right_ui=False) as viewer:
        threads = set(threading.enumerate()) - threads
        i = 0
        while viewer.is_running():
            row = rows[i % len(rows)]
            with viewer.lock():
                data.qpos[:] = qpos[row].double().numpy()
                mujoco.mj_kinematics(model, data)
                mujoco.mj_comPos(model, data)
                if i == 0:
                    viewer.cam.type = mujoco.mjtCamera.mjCAMERA_TRACKING
                    viewer.cam.trackbodyid = max(1, mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, ROOT_BODY))
                    viewer.cam.distance, viewer.cam.elevation, viewer.cam.azimuth = 5.0, -15.0, 135.0
                    viewer.cam.lookat[:] = data.subtree_com[viewer.cam.trackbodyid]
            c = int(lib.frame_clip[row])
            viewer.set_texts((None, mujoco.mjtGridPos.mjGRID_TOPLEFT, f"{lib.names[c]} [{lib.skill_names[c]}]", ""))
            viewer.sync()
            time.sleep(1 / lib.fps)
            i += 1
    for t in threads:
        t.join(timeout=10.0)
    return "viewer closed"
