"""Task evaluation: batched, seeded episodes of a controller driving a frozen skill policy.

Reported per task: success rate (the task's latched success test), mean time to success,
fall rate and how often each skill was chosen. Controllers: ``scripted`` (the task module's pure
function of the task observation, the baseline a trained high-level controller has to beat) or a
trained high-level controller's checkpoint (``learning/hlc.py``), run deterministically.
"""

from __future__ import annotations

import math

import torch

from skillmimic.envs.factory import policy_motion, task_env
from skillmimic.envs.task_env import BODY_OBS, TaskEnvConfig
from skillmimic.errors import SkillMimicError
from skillmimic.policy import ControllerPolicy, load_policy
from skillmimic.skills import skill_name
from skillmimic.tasks import TASKS, get_task

EPISODES = 64  # per task eval, by default


def evaluate_task(
    task_name: str,
    llc_checkpoint: str,
    motion: str | None = None,
    controller: str = "scripted",
    episodes: int = EPISODES,
    steps: int | None = None,
    num_envs: int = 64,
    seed: int = 0,
    device: str = "auto",
    backend: str = "auto",
) -> dict:
    """``controller``: "scripted" (the task's ``scripted``) or a controller checkpoint, which acts
    every ``llc_steps`` of its own training; ``steps``: control steps per episode (default: the
    task's episode length)."""
    task = get_task(task_name)
    llc_steps = task.CONFIG.llc_steps
    if controller == "scripted":
        if not hasattr(task, "scripted"):
            scripted = ", ".join(sorted(n for n, t in TASKS.items() if hasattr(t, "scripted")))
            raise SkillMimicError(f"no scripted controller for task {task_name!r}; scripted: {scripted}")
        act = lambda obs: task.scripted(obs[:, BODY_OBS:])  # noqa: E731
    llc = load_policy(llc_checkpoint, device, backend)
    if controller != "scripted":
        hlc = ControllerPolicy(controller, llc.config.sim.device)
        act, llc_steps = hlc.act, hlc.config.task.llc_steps
    steps = steps if steps is not None else task.CONFIG.episode_length
    lib = policy_motion(llc, motion)
    batch = min(num_envs, episodes)
    env_cfg = TaskEnvConfig(llc_steps=llc_steps, episode_length=steps, fall_height=task.CONFIG.fall_height)
    env = task_env(task, llc, lib, batch, env_cfg, seed)
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
        motion=str(motion or llc.config.motion),
        episodes=episodes,
        steps=steps,
        llc_steps=llc_steps,
        seed=seed,
        device=llc.config.sim.device,
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
