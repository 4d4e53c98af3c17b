"""Training a high-level controller (HLC): discrete PPO choosing skills of a frozen skill policy.

``skillmimic train --task heading --llc CKPT`` builds a ``TaskEnv`` over the skill policy's own
clips (or ``--motion``), trains rl-games' discrete PPO on it (preset ``train/hlc.yaml``: upstream's
network and PPO values) and writes self-describing checkpoints: the task, its control mapping and
the skill policy they drive, by path and content hash (a different file at that path is refused;
``policy/controller.py`` loads them).
"""

from __future__ import annotations

from dataclasses import replace

import torch
from gymnasium import spaces

from skillmimic.config import TrainConfig, to_dict
from skillmimic.envs.factory import policy_motion, task_env
from skillmimic.envs.task_env import TaskEnv, TaskEnvConfig
from skillmimic.errors import SkillMimicError
from skillmimic.learning.observer import EpochObserver
from skillmimic.learning.vecenv import RLGamesVecEnv, register_wrapper
from skillmimic.policy import SkillPolicy
from skillmimic.policy.checkpoint import CONTROLLER_KIND, FORMAT
from skillmimic.policy.controller import file_digest
from skillmimic.tasks import get_task


def with_task_defaults(cfg: TrainConfig) -> TrainConfig:
    """``cfg`` with the task's own controller period and episode length where the config leaves them
    unset: the run's config snapshot and checkpoint then say what it trained with."""
    own = get_task(cfg.task.name).CONFIG
    t = cfg.task
    return replace(
        cfg,
        task=replace(
            t,
            llc_steps=t.llc_steps if t.llc_steps is not None else own.llc_steps,
            episode_length=t.episode_length if t.episode_length is not None else own.episode_length,
        ),
    )


def build_task_env(cfg: TrainConfig) -> TaskEnv:
    """The task env of ``cfg`` (task defaults filled in: ``with_task_defaults``)."""
    t = cfg.task
    task = get_task(t.name)
    if not t.llc:
        raise SkillMimicError("--task needs --llc CKPT: the skill policy the controller drives")
    llc = SkillPolicy(t.llc, cfg.sim.device)
    llc.config = replace(llc.config, sim=cfg.sim)  # simulate where this run does
    lib = policy_motion(llc, cfg.motion)
    assert t.llc_steps is not None and t.episode_length is not None, "with_task_defaults fills them in"
    env_cfg = TaskEnvConfig(llc_steps=t.llc_steps, episode_length=t.episode_length, fall_height=task.CONFIG.fall_height)
    return task_env(task, llc, lib, cfg.num_envs, env_cfg, cfg.seed)


def hlc_metadata(cfg: TrainConfig, env: TaskEnv) -> dict:
    assert cfg.task.llc is not None, "build_task_env requires it"
    return dict(
        format=FORMAT,
        kind=CONTROLLER_KIND,
        config=to_dict(cfg),
        task=env.task.NAME,
        skills=[int(s) for s in env.task.SKILLS],
        obs_size=env.num_obs,
        num_actions=env.num_actions,
        llc=dict(path=str(cfg.task.llc), sha256=file_digest(cfg.task.llc)),
    )


class TaskVecEnv(RLGamesVecEnv):
    """The task env for rl-games: one discrete action (the skill), the task's info, no sampler state."""

    def action_space(self) -> spaces.Space:
        return spaces.Discrete(self.env.num_actions)

    def step_info(self, info: dict) -> dict:
        return {"time_outs": info["time_outs"], "task": info}

    def get_env_state(self):
        return None

    def set_env_state(self, state) -> None:
        pass


ENV_NAME = "skillmimic_task"


def register(env: TaskEnv) -> TaskVecEnv:
    return register_wrapper(TaskVecEnv(env), ENV_NAME, "SKILLMIMIC_TASK")


class TaskObserver(EpochObserver):
    """Per epoch: mean task reward, episodes succeeded, falls and the skill choices; one line and
    tensorboard scalars. Sums stay on the device until the epoch's one read."""

    def __init__(self, max_epochs: int, skills: list[int], minutes: float = 0.0):
        super().__init__(max_epochs, minutes)
        self.skills = skills
        self._sums: torch.Tensor | None = None
        self.steps = 0

    def process_infos(self, infos, done_indices) -> None:
        info = infos.get("task") if isinstance(infos, dict) else None
        if info is None:
            return
        choice = torch.bincount(info["skill_index"], minlength=len(self.skills)).double()
        counts = torch.stack((info["reward"].mean(), info["fell"].sum(), info["succeeded"].sum()))
        values = torch.cat((counts.double(), choice))
        self._sums = values if self._sums is None else self._sums + values
        self.steps += 1

    def after_print_stats(self, frame, epoch_num, total_time) -> None:
        if self.last.get("epoch") == epoch_num:  # rl-games' discrete agent reports each epoch twice
            return
        rate, where = self._next_epoch(epoch_num)
        sums = self._sums.tolist() if self._sums is not None else [0.0] * (3 + len(self.skills))
        reward, falls, successes = sums[0] / max(self.steps, 1), int(sums[1]), int(sums[2])
        choices = sums[3:]
        total = max(sum(choices), 1.0)
        w = self.writer
        w.add_scalar("task/reward", reward, frame)
        w.add_scalar("task/successes", successes, frame)
        w.add_scalar("task/falls", falls, frame)
        for s, c in zip(self.skills, choices, strict=True):
            w.add_scalar(f"task/skill_{s:03d}", c / total, frame)
        w.add_scalar("performance/samples_per_s", rate, frame)
        usage = " ".join(f"{s:03d}:{100 * c / total:.0f}%" for s, c in zip(self.skills, choices, strict=True))
        print(
            f"{where}  samples {self.algo.frame:,}  {rate:,.0f} samples/s  "
            f"task reward {reward:.3f}  successes {successes}  falls {falls}  skills {usage}",
            flush=True,
        )
        self.last = dict(epoch=epoch_num, reward=reward)
        self._sums, self.steps = None, 0

    def _last_epoch(self) -> str:
        return f"; last epoch {self.last['epoch']}: task reward {self.last['reward']:.3f}" if self.last else ""
