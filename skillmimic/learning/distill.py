"""``skillmimic distill``: a tracking teacher's skill, in a policy that needs no reference (DAgger).

The teacher (``train/teacher.yaml``) acts from the next reference frame; a skill policy must act
from the state and the skill label alone, as SkillMimic's do. DAgger (Ross et al., 2011) turns the
teacher into labels on the states the *student* visits: each iteration the student acts in the
worlds (mixed with the teacher's actions with a probability that decays from 1), the teacher
labels every visited state, and the student regresses onto all labels kept so far. A supervised
label on every step carries far more signal per sample than PPO's scalar reward (MaskedMimic,
PULSE and InterMimic distil the same way).

Labels are absolute actions: the teacher's PD target (reference + s * pi * a) divided by pi, what
the student's own action map turns back into the same target. The student's observation is the
teacher's without its ``reference`` part, a prefix of it (``envs/observations.py``). The student is
saved as an ordinary training checkpoint (rl-games' actor-critic, untrained critic), so ``play``,
``eval`` and ``export-policy`` take it, and ``train --resume-from`` fine-tunes it with PPO.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import torch
from torch.utils.tensorboard import SummaryWriter

from skillmimic.config import load_config, resolve_device, to_dict, to_yaml
from skillmimic.envs.observations import obs_layout, obs_size
from skillmimic.errors import SkillMimicError
from skillmimic.learning.train import build_env, policy_metadata
from skillmimic.policy.checkpoint import atomic_save
from skillmimic.policy.skill import SkillPolicy, build_model
from skillmimic.threads import configure_threads


def absolute_labels(teacher_actions: torch.Tensor, reference_dofs: torch.Tensor, scale: float) -> torch.Tensor:
    """The absolute actions (target / pi, in [-1, 1]) that give the teacher's PD targets:
    ``reference + scale * pi * a`` over pi. ``reference_dofs``: the next reference frame's angles
    of the driven hinges."""
    return (reference_dofs / math.pi + scale * teacher_actions.clamp(-1.0, 1.0)).clamp(-1.0, 1.0)


def student_config(teacher_cfg):
    """The teacher's config less what needs the reference: absolute actions, no reference
    observation (terminations, loop and fingers stay, so the student meets the teacher's states)."""
    env = replace(teacher_cfg.env, residual_actions=0.0, reference_obs=False)
    return replace(teacher_cfg, env=env, ppo=replace(teacher_cfg.ppo, mu_init="zero"))


class Distiller:
    """DAgger over the teacher's own env (its observation, absolute actions)."""

    def __init__(self, teacher: SkillPolicy, cfg, buffer: int, lr: float, seed: int, teacher_samples: int = 0):
        tcfg = teacher.config
        if tcfg.env.residual_actions <= 0 or not tcfg.env.reference_obs:
            raise SkillMimicError(
                f"{teacher.path}: not a tracking teacher (needs env.residual_actions > 0 and env.reference_obs)"
            )
        self.teacher, self.scale = teacher, tcfg.env.residual_actions
        self.teacher_samples = teacher_samples  # what the teacher cost, for the record
        self.cfg = cfg  # the student's
        # the worlds: the teacher's observation (student's + reference), absolute actions
        env_cfg = replace(cfg.env, reference_obs=True)
        self.env = build_env(replace(cfg, env=env_cfg), teacher.history_encoder, teacher.finger_pose)
        self.student_obs = obs_size(cfg.history.enabled, False)
        self.student = build_model(cfg).to(self.env.device)
        self.opt = torch.optim.Adam(self.student.a2c_network.parameters(), lr=lr)
        self.gen = torch.Generator(device=self.env.device).manual_seed(seed)
        self.capacity = buffer
        self.obs_buf = torch.zeros(0, self.student_obs, device=self.env.device)
        self.label_buf = torch.zeros(0, self.env.num_actions, device=self.env.device)
        self.obs = self.env.reset()
        self.samples = 0

    def labels(self, obs: torch.Tensor) -> torch.Tensor:
        """Teacher labels for the current states (before the step that ``obs`` precedes)."""
        env = self.env
        ref = env.lib.frames.dof_pos[env.lib.flat_index(env.clip, env.frame + 1)]
        return absolute_labels(self.teacher.act(obs), ref.index_select(1, env.actions.dofs), self.scale)

    def student_act(self, obs: torch.Tensor) -> torch.Tensor:
        x = self.student.norm_obs(obs[:, : self.student_obs])
        return self.student.a2c_network({"obs": x})[0]

    @torch.no_grad()
    def collect(self, steps: int, beta: float) -> dict:
        """``steps`` env steps with the student acting (the teacher with probability ``beta`` per
        world and step); every visited state is labelled by the teacher and kept."""
        self.student.eval()
        obs_rows, label_rows, reward, falls, ended, length = [], [], 0.0, 0, 0, 0.0
        for _ in range(steps):
            label = self.labels(self.obs)
            act = self.student_act(self.obs).clamp(-1.0, 1.0)
            use_teacher = torch.rand(act.shape[0], 1, generator=self.gen, device=act.device) < beta
            obs_rows.append(self.obs[:, : self.student_obs].clone())
            label_rows.append(label)
            progress = self.env.progress.clone()
            self.obs, r, done, info = self.env.step(torch.where(use_teacher, label, act))
            reward += float(r.mean())
            falls += int(info.fell.sum())
            ended += int(done.sum())
            length += float((progress[done] + 1).sum())
        self.obs_buf = torch.cat((self.obs_buf, *obs_rows))[-self.capacity :]
        self.label_buf = torch.cat((self.label_buf, *label_rows))[-self.capacity :]
        self.samples += steps * self.env.num_envs
        return dict(reward=reward / steps, falls=falls, ep_len=length / max(ended, 1))

    def fit(self, passes: float, batch: int, new_rows: int) -> float:
        """Regress the student's mean action onto labels drawn from everything kept: ``passes`` x
        ``new_rows`` rows in minibatches of ``batch`` (old rows keep being revisited, as DAgger's
        aggregate asks, at a cost per iteration that does not grow with the buffer). The observation
        normaliser counts each collected row once: the ``new_rows`` newest. Returns the mean loss."""
        n = len(self.obs_buf)
        self.student.train()
        with torch.no_grad():
            self.student.norm_obs(self.obs_buf[-new_rows:])
        self.student.eval()
        total = 0.0
        updates = max(1, round(passes * new_rows / batch))
        for _ in range(updates):
            idx = torch.randint(n, (min(batch, n),), generator=self.gen, device=self.obs_buf.device)
            loss = ((self.student_act(self.obs_buf[idx]) - self.label_buf[idx]) ** 2).mean()
            self.opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.student.a2c_network.parameters(), 1.0)
            self.opt.step()
            total += loss.item()
        return total / updates

    def iteration(self, steps: int, beta: float, passes: float, batch: int) -> dict:
        stats = self.collect(steps, beta)
        stats["loss"] = self.fit(passes, batch, steps * self.env.num_envs)
        return stats

    def save(self, path: Path, epoch: int, teacher_path: str) -> None:
        meta = policy_metadata(self.cfg, self.env)
        meta.update(
            obs_size=self.student_obs,
            obs_layout={k: list(v) for k, v in obs_layout(self.cfg.history.enabled, False).items()},
            config=to_dict(self.cfg),
            distilled=dict(teacher=teacher_path, teacher_samples=self.teacher_samples, student_samples=self.samples),
        )
        state = dict(model=self.student.state_dict(), epoch=epoch, frame=self.samples, skillmimic=meta)
        atomic_save(state, path)


def distill(
    teacher_path: str,
    run: str,
    iterations: int = 50,
    minutes: float = 0.0,
    steps: int = 32,
    passes: float = 4.0,
    batch: int = 512,
    buffer: int = 200_000,
    lr: float = 1e-4,
    beta_iterations: int = 10,
    num_envs: int | None = None,
    device: str = "auto",
    overrides: Sequence[str] = (),
) -> Path:
    """DAgger from ``teacher_path`` into run ``run``: ``iterations`` of ``steps`` env steps each
    (or until ``minutes``); beta (the teacher's share of actions) falls linearly from 1 to 0 over
    ``beta_iterations``. Writes ``runs/<run>/`` like ``train``: config, tensorboard, nn/last.pth."""
    teacher = SkillPolicy(teacher_path, "cpu")  # its config sets the student's
    base = to_dict(student_config(teacher.config))
    base["sim"] = {**base["sim"], "device": device, "backend": "auto"}
    base.update(minutes=0.0, run=None, runs_dir="runs")  # where the teacher's run lived is not this run's
    flags = [f"num_envs={num_envs}"] if num_envs else []
    cfg = resolve_device(load_config(base=base, overrides=[*flags, *overrides]))
    configure_threads(cfg.sim.device, cfg.sim.threads)
    cfg = replace(cfg, run=run)
    run_dir = Path(cfg.runs_dir) / run
    last = run_dir / "nn" / "last.pth"
    if last.exists():
        raise SkillMimicError(f"run {run!r} already has checkpoints in {run_dir}; choose another --run")
    teacher.device = torch.device(cfg.sim.device)  # read once on the CPU, then moved
    teacher.model.to(teacher.device)
    torch.manual_seed(cfg.seed)
    d = Distiller(teacher, cfg, buffer, lr, cfg.seed, teacher.samples)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(to_yaml(cfg))
    writer = SummaryWriter(str(run_dir / "summaries"))
    print(
        f"distill {teacher_path} ({d.teacher_samples:,} teacher samples) -> {run_dir}: {cfg.num_envs} envs, "
        f"{cfg.sim.backend} on {cfg.sim.device}, {steps} steps per iteration",
        flush=True,
    )
    t0 = time.monotonic()
    it = 0
    for it in range(1, iterations + 1):
        tick = time.monotonic()
        beta = max(0.0, 1.0 - (it - 1) / max(beta_iterations, 1))
        s = d.iteration(steps, beta, passes, batch)
        rate = steps * cfg.num_envs / (time.monotonic() - tick)
        for k, v in (*s.items(), ("beta", beta), ("samples_per_s", rate)):
            writer.add_scalar(f"distill/{k}", v, d.samples)
        print(
            f"iteration {it}  samples {d.samples:,}  {rate:,.0f} samples/s  beta {beta:.2f}  loss {s['loss']:.4f}  "
            f"reward {s['reward']:.3f}  ep_len {s['ep_len']:.1f}  falls {s['falls']}",
            flush=True,
        )
        if minutes > 0 and time.monotonic() - t0 >= 60.0 * minutes:
            break
    (run_dir / "nn").mkdir(exist_ok=True)
    d.save(last, it, str(teacher_path))
    writer.close()
    print(f"stopped after {it} iterations, {d.samples:,} student samples; checkpoint {last}", flush=True)
    return run_dir
