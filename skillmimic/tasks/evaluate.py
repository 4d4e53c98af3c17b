"""Task evaluation: batched, seeded episodes of a controller driving a frozen skill policy.

Reported per task: success rate (the task's latched success test), mean time to success,
fall rate and how often each skill was chosen. Controllers: ``scripted`` (a pure function of the
task observation, the baseline a trained high-level controller has to beat) or a trained
high-level controller's checkpoint (``learning/hlc.py``), run deterministically.
"""

from __future__ import annotations

import math

import torch

from skillmimic.errors import SkillMimicError
from skillmimic.learning.policy import load_policy
from skillmimic.motion.library import MotionLibrary
from skillmimic.sim.factory import make_simulator
from skillmimic.skills import skill_name
from skillmimic.tasks import TASKS
from skillmimic.tasks.task_env import BODY_OBS, TaskEnv, TaskEnvConfig

TURN = 0.35  # rad: the scripted heading controller turns when the goal is further off its facing


def scripted_heading(task_obs: torch.Tensor) -> torch.Tensor:
    """Dribble right / forward / left (action 0 / 1 / 2 of the heading task) from the goal's
    bearing: left of the facing by more than ``TURN``: left; right of it: right; else forward."""
    bearing = torch.atan2(task_obs[:, 3], task_obs[:, 2])
    return torch.where(bearing > TURN, 2, torch.where(bearing < -TURN, 0, 1))


SCRIPTED = {"heading": scripted_heading}


def evaluate_task(
    task_name: str,
    llc_checkpoint: str,
    motion: str | None = None,
    controller: str = "scripted",
    episodes: int = 64,
    steps: int = 800,
    num_envs: int = 64,
    seed: int = 0,
    llc_steps: int = 3,
    device: str = "auto",
    backend: str = "auto",
) -> dict:
    if task_name not in TASKS:
        raise SkillMimicError(f"unknown task {task_name!r}; tasks: {', '.join(sorted(TASKS))}")
    if controller == "scripted" and task_name not in SCRIPTED:
        raise SkillMimicError(f"no scripted controller for task {task_name!r}; scripted: {', '.join(SCRIPTED)}")
    task = TASKS[task_name]
    llc, cfg = load_policy(llc_checkpoint, device, backend)
    if controller == "scripted":
        act = lambda obs: SCRIPTED[task_name](obs[:, BODY_OBS:])  # noqa: E731
    else:  # a trained high-level controller checkpoint
        from skillmimic.learning.hlc import HLCPolicy

        act = HLCPolicy(controller, cfg.sim.device).act
    motion = motion or cfg.motion
    if not motion:
        raise SkillMimicError(f"{llc_checkpoint}: the checkpoint names no motion; pass --motion")
    missing = sorted(set(task.SKILLS) - set(llc.skills))
    if missing:
        raise SkillMimicError(
            f"{llc_checkpoint}: task {task_name} needs skills {', '.join(f'{s:03d} {skill_name(s)}' for s in missing)}"
            f", which the skill policy was not trained on"
        )
    lib = MotionLibrary.load(motion, cfg.sim.device, cfg.skill, cfg.retarget_ball)
    batch = min(num_envs, episodes)
    sim = make_simulator(cfg.sim.backend, batch, cfg.sim.device, cfg.scene, cfg.sim_config())
    env = TaskEnv(task, llc, lib, sim, TaskEnvConfig(llc_steps=llc_steps, episode_length=steps), seed)
    outcomes = []
    for _ in range(math.ceil(episodes / batch)):
        obs = env.reset()
        alive = torch.ones(batch, dtype=torch.bool, device=env.device)
        success = torch.zeros_like(alive)
        fell = torch.zeros_like(alive)
        t_success = torch.full((batch,), float("nan"), device=env.device)
        usage = torch.zeros(batch, len(task.SKILLS), device=env.device)
        for k in range(math.ceil(steps / llc_steps)):
            a = act(obs)
            usage[torch.arange(batch), a] += alive.float()
            obs, _, done, info = env.step(a)
            first = alive & info["success"] & ~success
            t_success = torch.where(first, (k + 1) * llc_steps * env.env.sim.control_dt, t_success)
            success |= alive & info["success"]
            fell |= alive & info["fell"]
            alive &= ~done
            if not alive.any():
                break
        outcomes.append(dict(success=success, fell=fell, t=t_success, usage=usage))
    out = {k: torch.cat([o[k] for o in outcomes])[:episodes] for k in outcomes[0]}
    usage = out["usage"].sum(0)
    reached = out["t"][out["success"]]
    return dict(
        task=task_name,
        controller=controller,
        llc=str(llc_checkpoint),
        motion=str(motion),
        episodes=episodes,
        steps=steps,
        llc_steps=llc_steps,
        seed=seed,
        device=cfg.sim.device,
        success_rate=round(out["success"].float().mean().item(), 4),
        mean_time_to_success=round(reached.mean().item(), 3) if len(reached) else None,
        fall_rate=round(out["fell"].float().mean().item(), 4),
        skill_usage={
            f"{s:03d} {skill_name(s)}": round((u / usage.sum().clamp_min(1)).item(), 4)
            for s, u in zip(task.SKILLS, usage, strict=True)
        },
    )


def format_task_report(r: dict) -> str:
    t = "-" if r["mean_time_to_success"] is None else f"{r['mean_time_to_success']:.2f} s"
    usage = ", ".join(f"{k} {100 * v:.0f}%" for k, v in r["skill_usage"].items())
    return (
        f"task {r['task']} ({r['controller']} controller, skill policy {r['llc']}): {r['episodes']} episodes of "
        f"{r['steps']} steps\nsuccess {100 * r['success_rate']:.1f}%  time to success {t}  "
        f"falls {100 * r['fall_rate']:.1f}%\nskills: {usage}"
    )
