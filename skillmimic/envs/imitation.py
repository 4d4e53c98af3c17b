"""The HOI imitation environment: N simulated worlds tracking reference clips, batched in torch.

Step order (fixed): actions -> PD targets -> physics substeps and a forward pass -> reward and
terminations on the post-step state against reference frame ``start + progress`` (or its loop,
``env.loop_reference``) -> reset of
finished worlds (full reset, state written, forward pass) -> observations of every world.
Nothing read is stale: the simulator refreshes derived quantities after a step and after a reset.

Worlds that diverge (non-finite or runaway state, buffer overflow) get reward 0, terminate,
are reset and counted; they never stop training.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from skillmimic.config import EnvConfig, RewardConfig
from skillmimic.envs import observations as obs_fn
from skillmimic.envs.actions import ActionMap
from skillmimic.envs.history import HistoryStream, frame_state, history_windows
from skillmimic.envs.history_encoder import HistoryEncoder
from skillmimic.envs.reference import loop_anchor, loop_targets
from skillmimic.envs.rewards import (
    TERMS,
    HOIState,
    ball_offset_error,
    clip_mean_substitute,
    hoi_state,
    imitation_reward,
    node_distance,
)
from skillmimic.envs.sampling import START_KINDS, UniformStartSampler
from skillmimic.humanoid import HAND_BODIES, NO_CONTACT_BODIES, body_index
from skillmimic.motion.library import MotionLibrary, MotionState
from skillmimic.sim.base import BodyState, Contacts, Simulator
from skillmimic.sim.state import SimState

HAND_IDS = [body_index(n) for n in HAND_BODIES]
NO_CONTACT_IDS = [body_index(n) for n in NO_CONTACT_BODIES]
COUNTERS = ("falls", "diverged", "timeouts")  # ``ImitationEnv.totals``


def contact_flags(c: Contacts) -> tuple[torch.Tensor, torch.Tensor]:
    """[N] bool each: a hand touches the ball; a forbidden (trunk or limb) body touches anything."""
    return c.ball_body[:, HAND_IDS].any(dim=1), c.body_any[:, NO_CONTACT_IDS].any(dim=1)


@dataclass
class Snapshot:
    """One read of the simulator, shared by reward, terminations and observations."""

    state: SimState
    bodies: BodyState
    contacts: Contacts


@dataclass
class StepInfo:
    """What a step did: per-env flags, the post-step state before any reset, and means over envs."""

    time_outs: torch.Tensor  # [N] episode ended by length, not by failure (bootstrap the value)
    fell: torch.Tensor  # [N] pelvis below the termination height
    drifted: torch.Tensor  # [N] reward nodes (or the ball) farther than env.(ball_)termination_distance
    diverged: torch.Tensor  # [N] non-finite or runaway state, reset
    ball_touch: torch.Tensor  # [N] some body touches the ball (post-step, before resets)
    hand_touch: torch.Tensor  # [N] a hand touches the ball (post-step, before resets)
    ball_offset: torch.Tensor  # [N] m between the ball's offset from the root and the reference's
    node_drift: torch.Tensor  # [N] m RMS distance of the 18 reward nodes from the reference's
    state: SimState  # post-step state of every world, before resets
    reward: torch.Tensor  # mean reward of this step
    terms: dict[str, torch.Tensor]  # mean of each reward term

    # These read the device (a host sync on CUDA): for tests and one-off use. Per-step consumers
    # (the training observer) accumulate ``fell.sum()`` / ``diverged.sum()`` as tensors instead.
    @property
    def falls(self) -> int:
        return int(self.fell.sum())

    @property
    def num_diverged(self) -> int:
        return int(self.diverged.sum())


class ImitationEnv:
    def __init__(
        self,
        lib: MotionLibrary,
        sim: Simulator,
        env_cfg: EnvConfig | None = None,
        reward_cfg: RewardConfig | None = None,
        seed: int = 0,
        sampler=None,
        history_encoder: HistoryEncoder | None = None,
        finger_pose: torch.Tensor | None = None,
    ):
        if lib.device != sim.device:
            raise ValueError(f"motion library on {lib.device} but simulator on {sim.device}")
        env_cfg, reward_cfg = env_cfg or EnvConfig(), reward_cfg or RewardConfig()
        self.lib, self.sim, self.cfg, self.reward_cfg = lib, sim, env_cfg, reward_cfg
        self.num_envs = sim.num_worlds
        self.device = sim.device
        self.encoder = history_encoder  # frozen; its embedding of the last frames ends the observation
        self.num_obs = obs_fn.obs_size(history_encoder is not None, env_cfg.reference_obs)
        # the policy's actions -> PD targets; finger_pose: a trained policy's table (env.fingers skill_pose)
        self.actions = ActionMap(env_cfg.fingers, lib, finger_pose, env_cfg.residual_actions)
        self.num_actions = self.actions.num_actions
        self.weights = {k: getattr(reward_cfg, k) for k in TERMS}
        self.sampler = sampler or UniformStartSampler(lib, torch.Generator().manual_seed(seed))
        n, dev = self.num_envs, self.device
        self.clip = torch.zeros(n, dtype=torch.long, device=dev)
        self.start = torch.zeros(n, dtype=torch.long, device=dev)
        self.progress = torch.zeros(n, dtype=torch.long, device=dev)
        self.frame = torch.zeros(n, dtype=torch.long, device=dev)  # reference frame: start + progress, or looped
        self.ep_len = torch.ones(n, dtype=torch.long, device=dev)
        self.skill = torch.zeros(n, dtype=torch.long, device=dev)
        # playback steers every env with one skill; a high-level controller each env with its own [N]
        self.skill_override: int | torch.Tensor | None = None
        # the reference is lib frames moved by (yaw about z, xy shift): identity unless a graph
        # switch re-anchored another clip onto where the character stands
        self.anchor_yaw = torch.zeros(n, device=dev)
        self.anchor_shift = torch.zeros(n, 3, device=dev)
        self._anchored = False  # any non-identity anchor yet (skips the transform until then)
        if env_cfg.loop_reference:  # where each clip's reference jumps back to at its end
            self.loop_to, _ = loop_targets(lib)
            self._anchored = True
        # reward substitution can only happen with missing frames or once a start had buffer steps
        self._has_missing = not bool(lib.valid.all())
        self._buffers = False
        self.buffer = torch.zeros(n, dtype=torch.long, device=dev)  # steps of clip-mean reward
        self.episode_reward = torch.zeros(n, device=dev)  # reward summed over the current episode
        # starts of each kind (START_KINDS) and their summed buffer steps, on the device
        self._start_counts = torch.zeros(len(START_KINDS) + 1, dtype=torch.long, device=dev)
        self.ref_ball_contact, self.ref_body_contact = self._reference_contacts()
        self._counts = torch.zeros(len(COUNTERS), dtype=torch.long, device=dev)  # totals, on the device
        # only backends with fixed-size buffers (MuJoCo Warp) have an overflow to report
        self._reports_overflow = type(sim).overflow_report is not Simulator.overflow_report
        self.overflow_message: str | None = None  # the first buffer-overflow report of this env
        if history_encoder is not None:
            # the last frames of every env and the encoder's layers over them, updated per frame
            history_encoder.to(dev).eval().requires_grad_(False)
            self.history = HistoryStream(history_encoder, n, dev)

    @property
    def start_totals(self) -> dict[str, int]:
        """Episode starts of each kind (``START_KINDS``) and their total buffer steps; reads the device."""
        counts = self._start_counts.tolist()
        return dict(zip((*START_KINDS, "buffer_steps"), counts, strict=True))

    @property
    def totals(self) -> dict[str, int]:
        """Episodes ended by each cause (``COUNTERS``) since the env was made; reads the device."""
        return dict(zip(COUNTERS, self._counts.tolist(), strict=True))

    # --- reference contact labels --------------------------------------------------------
    def _reference_contacts(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-frame reference labels: hand-ball contact and forbidden-body contact.

        With ``contact_label: geometry`` every reference frame is set in the simulator and the
        contacts are read exactly as during training, so a character that reproduces the
        reference gets full contact rewards. With ``data`` the hand-ball label is the clip's flag.
        """
        f = self.lib.frames
        num = self.lib.num_frames
        ball = torch.zeros(num, device=self.device)
        body = torch.zeros(num, device=self.device)
        if self.reward_cfg.contact_label == "data" and self.reward_cfg.cg1 == 0:
            return f.contact.clone(), body
        for lo in range(0, num, self.num_envs):
            rows = torch.arange(lo, min(lo + self.num_envs, num), device=self.device)
            self.sim.set_state(torch.arange(len(rows), device=self.device), SimState.from_motion(f.index(rows)))
            hand, forbidden = contact_flags(self.read().contacts)
            ball[rows], body[rows] = hand[: len(rows)].float(), forbidden[: len(rows)].float()
        if self.reward_cfg.contact_label == "data":
            ball = f.contact.clone()
        return ball, body

    # --- reset ---------------------------------------------------------------------------
    def reset(self, env_ids: torch.Tensor | None = None) -> torch.Tensor:
        """Start new episodes in ``env_ids`` (all if None); returns observations of all envs."""
        ids = torch.arange(self.num_envs, device=self.device) if env_ids is None else env_ids
        self._reset_envs(ids)
        snap = self.read()
        obs = self.observe(snap)
        self._push_history(snap)
        return obs

    def _reset_envs(self, ids: torch.Tensor) -> None:
        if ids.numel() == 0:
            return
        s = self.sampler.sample(ids)
        clips, starts = s.clips, s.frames
        self.clip[ids], self.start[ids] = clips, starts
        self.progress[ids] = 0
        self.frame[ids] = starts
        self.episode_reward[ids] = 0.0
        if self.cfg.reference_ends_episode:
            self.ep_len[ids] = (self.lib.lengths[clips] - 1 - starts).clamp(1, self.cfg.episode_length)
        else:
            self.ep_len[ids] = self.cfg.episode_length
        override = self.skill_override
        if override is None:
            self.skill[ids] = self.lib.skill_ids[clips]
        else:
            self.skill[ids] = override[ids] if isinstance(override, torch.Tensor) else override
        if s.anchor_yaw is not None:
            assert s.anchor_shift is not None, "an anchored start has both yaw and shift"
            self.anchor_yaw[ids], self.anchor_shift[ids] = s.anchor_yaw, s.anchor_shift
            self._anchored = True
        elif self._anchored:
            self.anchor_yaw[ids], self.anchor_shift[ids] = 0.0, 0.0
        self.buffer[ids] = 0 if s.buffer is None else s.buffer
        self._buffers = self._buffers or s.buffer is not None
        kind = torch.zeros_like(ids) if s.kind is None else s.kind
        counts = torch.bincount(kind, minlength=len(START_KINDS))
        self._start_counts += torch.cat((counts, self.buffer[ids].sum().view(1)))
        state = s.state if s.state is not None else SimState.from_motion(self._reference_frames(clips, starts, ids))
        self.sim.set_state(ids, state)
        if self.encoder is not None:
            # the reference frames before the start (of the switched-to clip after a graph switch);
            # heading-local, so a re-anchored reference gives the same frames
            self.history.fill(ids, history_windows(self.lib, self.lib.flat_index(clips, starts)))

    def set_skill(self, skill_id: int | torch.Tensor | None) -> None:
        """Condition the envs on ``skill_id`` from now on, resets included: one id for all, a
        tensor [N] of ids per env, or None (each clip's own label again)."""
        self.skill_override = skill_id
        if skill_id is None:
            self.skill[:] = self.lib.skill_ids[self.clip]
        else:
            self.skill[:] = skill_id

    # --- step ----------------------------------------------------------------------------
    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, StepInfo]:
        ref_next = None
        if self.cfg.residual_actions > 0:  # offsets around the frame this step should reach
            ref_next = self.lib.frames.dof_pos[self.lib.flat_index(self.clip, self.frame + 1)]
        self.sim.step(self.actions(actions, self.skill, ref_next))
        self.progress += 1
        self.frame += 1
        if self.cfg.loop_reference:
            self._loop()
        on_step = getattr(self.sampler, "on_step", None)
        if on_step is not None:
            on_step()
        snap = self.read()
        sim_hoi, ref_hoi = self._hoi_states(snap)
        reward, terms = imitation_reward(sim_hoi, ref_hoi, self.weights)

        diverged = self.sim.diverged()
        fell = snap.state.root_pos[:, 2] < self.cfg.termination_height
        fell = fell & self.cfg.early_termination & ~diverged
        # buffer steps after an off-reference start, and reference frames that are missing, earn
        # the mean reward of the other envs on the same clip (the env has no reward of its own)
        buffering = self.progress <= self.buffer
        if self._buffers or self._has_missing:
            substitute = buffering | ~self.lib.valid[self.lib.flat_index(self.clip, self.frame)]
            reward = clip_mean_substitute(reward, self.clip, substitute, self.lib.num_clips)
        node_drift = node_distance(sim_hoi, ref_hoi)
        drifted = torch.zeros_like(fell)
        if self.cfg.termination_distance > 0:
            drifted = node_drift > self.cfg.termination_distance
        ball_offset = ball_offset_error(sim_hoi, ref_hoi)
        if self.cfg.ball_termination_distance > 0:
            drifted = drifted | (ball_offset > self.cfg.ball_termination_distance)
        drifted = drifted & ~fell & ~diverged & ~buffering
        terminated = fell | drifted | diverged
        time_out = (self.progress >= self.ep_len) & ~terminated
        reward = torch.where(diverged, torch.zeros_like(reward), reward)
        done = terminated | time_out
        self.episode_reward += reward

        info = StepInfo(
            time_outs=time_out,
            fell=fell,
            drifted=drifted,
            diverged=diverged,
            ball_touch=snap.contacts.ball_body.any(dim=1),
            hand_touch=contact_flags(snap.contacts)[0],
            ball_offset=ball_offset,
            node_drift=node_drift,
            state=snap.state,
            reward=reward.mean(),
            terms={k: torch.where(diverged, 0.0, v).mean() for k, v in terms.items()},
        )
        self._counts += torch.stack((fell.sum(), diverged.sum(), time_out.sum()))  # order of COUNTERS
        reset = done.nonzero().flatten()
        if reset.numel():
            # a diverged world is always reset, so only a step with resets needs the (syncing) check
            if self._reports_overflow and self.overflow_message is None and bool(diverged.any()):
                self.overflow_message = self.sim.overflow_report()
            record = getattr(self.sampler, "record_episodes", None)  # adaptive sampling learns from them
            if record is not None:
                mean = self.episode_reward[reset] / self.progress[reset].clamp_min(1)
                record(self.clip[reset], self.start[reset], mean)
            self._reset_envs(reset)
            snap = self.read()
        obs = self.observe(snap)
        self._push_history(snap)
        return obs, reward, done, info

    def reference(self) -> MotionState:
        """The reference frame each env should be at now (``start + progress``, held at the clip's
        last frame when an episode outlasts its clip, or looped with ``env.loop_reference``)."""
        return self._reference_frames(self.clip, self.frame)

    def _loop(self) -> None:
        """Envs whose reference reached its clip's last frame jump to the clip's loop frame,
        re-anchored to keep the root's heading and place (``envs/reference.py``); branch-free."""
        end = self.lib.lengths[self.clip] - 1
        at_end = self.frame >= end
        to = self.loop_to[self.clip]
        yaw, shift = loop_anchor(self.lib, self.clip, end, to, self.anchor_yaw, self.anchor_shift)
        self.anchor_yaw = torch.where(at_end, yaw, self.anchor_yaw)
        self.anchor_shift = torch.where(at_end.unsqueeze(1), shift, self.anchor_shift)
        self.frame = torch.where(at_end, to, self.frame)

    def _reference_frames(self, clips: torch.Tensor, frames: torch.Tensor, ids=slice(None)) -> MotionState:
        """Library frames of envs ``ids`` moved by their anchors (a graph switch's re-anchoring)."""
        ref = self.lib.get(clips, frames)
        return ref.anchored(self.anchor_yaw[ids], self.anchor_shift[ids]) if self._anchored else ref

    def read(self) -> Snapshot:
        return Snapshot(
            self.sim.state(),
            self.sim.bodies(),
            self.sim.contacts(self.reward_cfg.contact_threshold, self.reward_cfg.contact_depth),
        )

    def compute_reward(self, snap: Snapshot | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Reward of the simulator state (default: read now) against the current reference frame."""
        return imitation_reward(*self._hoi_states(snap or self.read()), self.weights)

    def _hoi_states(self, snap: Snapshot) -> tuple[HOIState, HOIState]:
        """What the reward compares: the simulated state and the current reference frame."""
        rows = self.lib.flat_index(self.clip, self.frame)
        ref = self.lib.frames.index(rows)
        if self._anchored:  # what the reward reads
            ref = ref.anchored(self.anchor_yaw, self.anchor_shift, only=("body_pos", "root_rot", "ball_pos"))
        s, b = snap.state, snap.bodies
        sim_hoi = hoi_state(b.pos, b.rot[:, 0], s.dof_pos, s.ball_pos, *contact_flags(snap.contacts))
        ref_hoi = hoi_state(
            ref.body_pos,
            ref.root_rot,
            ref.dof_pos,
            ref.ball_pos,
            self.ref_ball_contact[rows],
            self.ref_body_contact[rows],
        )
        return sim_hoi, ref_hoi

    # --- observations --------------------------------------------------------------------
    def observe(self, snap: Snapshot | None = None) -> torch.Tensor:
        snap = snap or self.read()
        s, b, c = snap.state, snap.bodies, snap.contacts
        fingers = obs_fn.fingertip_forces(c.ball_body_force, self.cfg.fingertip_force_clip)
        parts = [
            obs_fn.humanoid_obs(b.pos, b.rot, b.vel, b.ang_vel, fingers),
            obs_fn.ball_obs(b.pos[:, 0], b.rot[:, 0], s.ball_pos, s.ball_rot, s.ball_vel, s.ball_ang_vel),
            obs_fn.skill_one_hot(self.skill),
        ]
        if self.encoder is not None:
            parts.append(self.history.embedding())
        if self.cfg.reference_obs:
            ref = self._reference_frames(self.clip, self.frame + 1)
            parts.append(
                obs_fn.reference_obs(
                    s.root_pos, s.root_rot, s.dof_pos, s.ball_pos, ref.root_pos, ref.dof_pos, ref.ball_pos
                )
            )
        return torch.cat(parts, dim=1)

    # --- history (SkillMimic-V2's history encoder) -----------------------------------------------
    def ordered_history(self) -> torch.Tensor:
        """[N, window, 316] the last frames, oldest first (what the encoder reads)."""
        return self.history.ordered()

    def _push_history(self, snap: Snapshot) -> None:
        """Append the current simulated frame (after the observation used the frames before it)."""
        if self.encoder is None:
            return
        b, s = snap.bodies, snap.state
        self.history.push(frame_state(b.pos, s.root_rot, s.dof_pos, s.ball_pos, self.skill))
