"""Training a high-level controller (HLC): discrete PPO choosing skills of a frozen skill policy.

``skillmimic train --task heading --llc CKPT`` builds a ``TaskEnv`` over the skill policy's own
clips (or ``--motion``), trains rl-games' discrete PPO on it (preset ``train/hlc.yaml``: upstream's
network and PPO values) and writes self-describing checkpoints: the task, its control mapping and
the skill policy they drive, by path and content hash (a different file at that path is refused).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from gymnasium import spaces

from skillmimic.config import TrainConfig, to_dict
from skillmimic.errors import SkillMimicError
from skillmimic.learning.checkpoint import FORMAT
from skillmimic.learning.observer import EpochObserver
from skillmimic.learning.policy import Policy
from skillmimic.learning.vecenv import RLGamesVecEnv, register_wrapper
from skillmimic.motion.library import MotionLibrary
from skillmimic.sim.factory import make_simulator
from skillmimic.skills import skill_name
from skillmimic.tasks import TASKS
from skillmimic.tasks.task_env import TaskEnv, TaskEnvConfig

HLC_KIND = "high-level controller"  # metadata ``kind`` of these checkpoints


def file_digest(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def build_task_env(cfg: TrainConfig) -> TaskEnv:
    t = cfg.task
    if t.name not in TASKS:
        raise SkillMimicError(f"task.name {t.name!r}: expected one of {', '.join(sorted(TASKS))}")
    if not t.llc:
        raise SkillMimicError("--task needs --llc CKPT: the skill policy the controller drives")
    task = TASKS[t.name]
    llc = Policy(t.llc, cfg.sim.device)
    missing = sorted(set(task.SKILLS) - set(llc.skills))
    if missing:
        names = ", ".join(f"{s:03d} {skill_name(s)}" for s in missing)
        raise SkillMimicError(f"{t.llc}: task {t.name} needs skills {names}, which the skill policy was not trained on")
    motion = cfg.motion or llc.config.motion
    if not motion:
        raise SkillMimicError(f"{t.llc}: the skill policy names no motion to start from; pass --motion")
    lib = MotionLibrary.load(motion, cfg.sim.device, llc.config.skill, llc.config.retarget_ball)
    sim = make_simulator(cfg.sim.backend, cfg.num_envs, cfg.sim.device, llc.config.scene, cfg.sim_config())
    env_cfg = TaskEnvConfig(llc_steps=t.llc_steps, episode_length=t.episode_length)
    return TaskEnv(task, llc, lib, sim, env_cfg, cfg.seed)


def hlc_metadata(cfg: TrainConfig, env: TaskEnv) -> dict:
    return dict(
        format=FORMAT,
        kind=HLC_KIND,
        config=to_dict(cfg),
        task=env.task.NAME,
        skills=[int(s) for s in env.task.SKILLS],
        obs_size=env.num_obs,
        num_actions=env.num_actions,
        llc=dict(path=str(cfg.task.llc), sha256=file_digest(cfg.task.llc)),
    )


def check_llc(meta: dict, where: str) -> None:
    """Refuse to drive another skill policy than the one the controller was trained with."""
    path = Path(meta["llc"]["path"])
    if not path.is_file():
        raise SkillMimicError(f"{where}: its skill policy {path} is missing")
    if file_digest(path) != meta["llc"]["sha256"]:
        raise SkillMimicError(f"{where}: {path} is not the skill policy it was trained with (content differs)")


def network_params(units: list[int]) -> dict:
    """rl-games' separate actor-critic MLPs with a discrete (logits) head (upstream HLC: [1024, 512])."""
    return {
        "model": {"name": "discrete_a2c"},
        "network": {
            "name": "actor_critic",
            "separate": True,
            "space": {"discrete": {}},
            "mlp": {
                "units": list(units),
                "activation": "relu",
                "d2rl": False,
                "initializer": {"name": "default"},
                "regularizer": {"name": "None"},
            },
        },
    }


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
        self._sums, self.steps = None, 0

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


def is_hlc_checkpoint(path: str | Path) -> bool:
    from skillmimic.learning.checkpoint import load_checkpoint

    return load_checkpoint(path)["skillmimic"].get("kind") == HLC_KIND


class HLCPolicy:
    """A trained high-level controller from its checkpoint alone: deterministic (the most likely
    skill, as upstream's player), on the checkpoint's task and skill policy."""

    def __init__(self, path: str | Path, device: str | torch.device = "cpu"):
        import contextlib
        import io

        from rl_games.algos_torch import model_builder

        from skillmimic.config import load_config
        from skillmimic.learning.checkpoint import load_checkpoint

        self.path = Path(path)
        state = load_checkpoint(self.path)
        meta = state["skillmimic"]
        if meta.get("kind") != HLC_KIND:
            raise SkillMimicError(f"{self.path}: not a high-level controller checkpoint (train one with --task)")
        check_llc(meta, str(self.path))
        self.meta, self.task, self.llc = meta, meta["task"], meta["llc"]["path"]
        self.config = load_config(base=meta["config"])
        self.epoch = int(state.get("epoch", 0))
        ppo = self.config.ppo
        with contextlib.redirect_stdout(io.StringIO()):  # rl-games prints each layer it builds
            net = model_builder.ModelBuilder().load(network_params(ppo.units))
            self.model = net.build(
                {
                    "actions_num": meta["num_actions"],
                    "input_shape": (meta["obs_size"],),
                    "num_seqs": 1,
                    "value_size": 1,
                    "normalize_value": ppo.normalize_value,
                    "normalize_input": ppo.normalize_input,
                }
            )
        self.model.load_state_dict({k.removeprefix("_orig_mod."): v for k, v in state["model"].items()})
        self.model.to(device).eval()
        self.device = torch.device(device)

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> torch.Tensor:
        out = self.model({"is_train": False, "prev_actions": None, "obs": obs.to(self.device), "rnn_states": None})
        return out["logits"].argmax(dim=-1)
