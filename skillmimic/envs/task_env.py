"""A high-level task over the imitation env: a controller picks a skill, the frozen skill policy
(the low-level controller, LLC) performs it for ``llc_steps`` control steps, the task scores it.

Observation: the humanoid and ball parts of the skill observation (no skill one-hot) and the
task's observation. Action: one index per env into the task's control mapping (``SKILLS``).
A task is any object with the attributes of a ``skillmimic/tasks/`` module (``tasks/common.py``).
The LLC runs deterministically (its own observation normaliser, mean action clamped to [-1, 1])
on its own observation, recomputed every control step with the chosen skill's one-hot. Reward:
the mean of the task's per-step rewards over the ``llc_steps`` (steps after an episode ended in
that window count 0). Episodes start at frame 2 of a clip (upstream), end by a fall (pelvis
below the task's ``fall_height``) or after ``episode_length`` control steps, and get new goals when
they restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

from skillmimic.config import TrainConfig
from skillmimic.envs.imitation import ImitationEnv, StepInfo
from skillmimic.envs.observations import OBS_LAYOUT
from skillmimic.envs.sampling import Starts, UniformStartSampler

BODY_OBS = OBS_LAYOUT["skill"][0]  # humanoid + ball parts: what the controller sees of the body (818)


class SkillActor(Protocol):
    """What an env needs of a skill policy: its training config (observation, fingers, reward), its
    frozen history encoder and finger table (or None), the skills it knows, and a deterministic act."""

    path: Path  # its file, named in errors
    config: TrainConfig
    history_encoder: Any
    finger_pose: torch.Tensor | None
    skills: list[int]

    def act(self, obs: torch.Tensor) -> torch.Tensor: ...


@dataclass
class TaskState:
    """The simulated quantities tasks read (world frame), [N, ...]."""

    root_pos: torch.Tensor
    root_rot: torch.Tensor
    root_vel: torch.Tensor
    ball_pos: torch.Tensor
    ball_vel: torch.Tensor
    ball_contact: torch.Tensor  # [N] bool: some body touches the ball


@dataclass
class TaskEnvConfig:
    llc_steps: int
    episode_length: int  # control steps
    fall_height: float  # m: the pelvis below this ends a task episode


class ClipStartSampler(UniformStartSampler):
    """A class-balanced random clip, from its frame 2 (or its first valid start after that)."""

    def sample(self, env_ids: torch.Tensor) -> Starts:
        n = env_ids.numel()
        clips = torch.multinomial(self.clip_weights, n, replacement=True, generator=self.gen)
        frames = self.frame_of(clips, torch.minimum(torch.full_like(clips, 2), self.count[clips] - 1))
        return Starts(clips.to(self.lib.device), frames.to(self.lib.device))


class TaskEnv:
    """``env``: the skill policy's imitation env, built by ``envs/factory.py``'s ``task_env`` (the
    policy's own observation and fingers, run like eval, with the task's episode length and fall
    height, starts from ``ClipStartSampler``)."""

    def __init__(self, task, llc: SkillActor, env: ImitationEnv, cfg: TaskEnvConfig, seed: int = 0):
        self.task, self.llc, self.cfg, self.env = task, llc, cfg, env
        self.num_envs, self.device = self.env.num_envs, self.env.device
        self.skills = torch.tensor(task.SKILLS, device=self.device)
        self.num_actions = len(task.SKILLS)
        self.num_obs = BODY_OBS + task.OBS_SIZE
        self.gen = torch.Generator().manual_seed(seed + 1)
        self.goals: dict[str, torch.Tensor] = {}
        self.llc_calls = 0  # LLC forward passes (one per control step)

    def task_state(self, info: StepInfo | None = None) -> TaskState:
        if info is None:
            snap = self.env.read()
            s, touch = snap.state, snap.contacts.ball_body.any(dim=1)
        else:
            s, touch = info.state, info.ball_touch
        return TaskState(s.root_pos, s.root_rot, s.root_vel, s.ball_pos, s.ball_vel, touch)

    def _new_goals(self, ids: torch.Tensor) -> None:
        """Goals for the envs ``ids`` from where they stand now (after their reset)."""
        fresh = self.task.sample(self.task_state(), self.gen)
        if not self.goals:
            self.goals = fresh
            return
        for k, v in fresh.items():
            self.goals[k][ids] = v[ids]

    def observe(self, llc_obs: torch.Tensor) -> torch.Tensor:
        return torch.cat((llc_obs[:, :BODY_OBS], self.task.observe(self.task_state(), self.goals)), dim=1)

    def reset(self) -> torch.Tensor:
        self.env.set_skill(self.skills[torch.zeros(self.num_envs, dtype=torch.long, device=self.device)])
        self._llc_obs = self.env.reset()
        self.goals = {}
        self._new_goals(torch.arange(self.num_envs, device=self.device))
        return self.observe(self._llc_obs)

    @torch.no_grad()
    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict]:
        """One controller step: ``actions`` [N] indices into the control mapping."""
        skill = self.skills[actions.long().to(self.device)]
        self.env.set_skill(skill)  # the LLC's one-hot, and the label of envs that restart
        obs = self.env.observe()
        n = self.num_envs
        reward = torch.zeros(n, device=self.device)
        ended = torch.zeros(n, dtype=torch.bool, device=self.device)
        time_out = torch.zeros_like(ended)
        fell = torch.zeros_like(ended)
        success = torch.zeros_like(ended)
        succeeded = torch.zeros_like(ended)  # success first reached in this step
        for _ in range(self.cfg.llc_steps):
            obs, _, done, info = self.env.step(self.llc.act(obs))
            self.llc_calls += 1
            state = self.task_state(info)
            live = ~ended
            reward += torch.where(live, self.task.reward(state, self.goals), 0.0)
            before = self.goals["success"]
            self.goals = self.task.advance(state, self.goals)
            success |= live & self.goals["success"]
            succeeded |= live & self.goals["success"] & ~before
            fell |= live & (info.fell | info.diverged)
            time_out |= live & info.time_outs
            ended |= done
            restarted = done.nonzero().flatten()
            if restarted.numel():
                self._new_goals(restarted)
        self._llc_obs = obs
        reward = reward / self.cfg.llc_steps
        task_info = dict(
            time_outs=time_out & ~fell,
            fell=fell,
            success=success,
            succeeded=succeeded,
            skill=skill,
            skill_index=actions.long().to(self.device),
            reward=reward,
        )
        return self.observe(obs), reward, ended, task_info
