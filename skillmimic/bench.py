"""Throughput benchmarks (``skillmimic bench``). Results carry the machine they came from."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import torch

from skillmimic.errors import SkillMimicError
from skillmimic.sim.base import SimConfig
from skillmimic.sim.factory import make_simulator
from skillmimic.sim.state import standing_state


def machine_info(device: str) -> dict:
    import mujoco
    import warp

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    info = dict(
        host=platform.node(),
        cpu=cpu,
        cpu_count=os.cpu_count(),
        python=platform.python_version(),
        torch=torch.__version__,
        mujoco=mujoco.__version__,
        warp=warp.__version__,
    )
    if str(device).startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info


def _sync(device: str) -> None:
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def _refuse_silent_eager(sim, graph: bool) -> None:
    """A CUDA number measured on eager launches (slower) must never pass for the graph one."""
    if graph and sim.device.type == "cuda" and not getattr(sim, "use_graphs", False):
        raise SkillMimicError(
            "bench: CUDA graphs were requested but the simulator runs eager launches (capture "
            "failed or no memory pool; see the warning above); pass --no-graph to measure eager"
        )


def _header(kind: str, sim, backend: str, device: str, envs: int, steps: int) -> dict:
    """What every bench result starts with: what ran, where, how big, and whether as CUDA graphs."""
    return dict(
        kind=kind,
        backend=backend,
        device=str(device),
        envs=envs,
        steps=steps,
        substeps=sim.substeps,
        graph=bool(getattr(sim, "use_graphs", False)),
    )


def bench_sim(backend: str, device: str, envs: int, steps: int, warmup: int = 10, graph: bool = True) -> dict:
    """World control-steps per second of the raw physics step (PD targets -> substeps + forward)."""
    sim = make_simulator(backend, envs, device, cfg=SimConfig(graph=graph))
    sim.set_state(torch.arange(envs), standing_state(envs))
    gen = torch.Generator().manual_seed(0)
    targets = (0.05 * torch.randn(envs, sim.model.nu, generator=gen)).to(sim.device)
    for _ in range(max(warmup, 1)):
        sim.step(targets)
    _sync(device)
    _refuse_silent_eager(sim, graph)
    t0 = time.perf_counter()
    for _ in range(steps):
        sim.step(targets)
    _sync(device)
    seconds = time.perf_counter() - t0
    return dict(
        **_header("sim", sim, backend, device, envs, steps),
        seconds=round(seconds, 4),
        world_steps_per_s=round(envs * steps / seconds, 1),
        physics_steps_per_s=round(envs * steps * sim.substeps / seconds, 1),
        diverged=int(sim.diverged().sum()),
        machine=machine_info(device),
    )


def bench_env(
    backend: str,
    device: str,
    envs: int,
    steps: int,
    warmup: int = 10,
    graph: bool = True,
    motion: str = "ballplay-m/layup",
) -> dict:
    """Full env steps per second (physics + observations + reward + resets) next to the raw physics
    step of the same simulator, measured in one run, and their ratio."""
    from skillmimic.envs.imitation import ImitationEnv
    from skillmimic.motion.library import MotionLibrary

    lib = MotionLibrary.load(motion, device)
    sim = make_simulator(backend, envs, device, cfg=SimConfig(graph=graph))
    env = ImitationEnv(lib, sim)
    env.reset()
    gen = torch.Generator().manual_seed(0)
    actions = (0.05 * torch.randn(envs, env.num_actions, generator=gen)).to(sim.device)

    def timed(fn) -> float:
        for _ in range(warmup):
            fn()
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(steps):
            fn()
        _sync(device)
        return time.perf_counter() - t0

    raw = timed(lambda: sim.step(actions * torch.pi))
    _refuse_silent_eager(sim, graph)
    env.reset()
    full = timed(lambda: env.step(actions))
    return dict(
        **_header("env", sim, backend, device, envs, steps),
        motion=motion,
        seconds=round(full, 4),
        world_steps_per_s=round(envs * steps / raw, 1),
        env_steps_per_s=round(envs * steps / full, 1),
        env_to_sim_ratio=round(raw / full, 3),
        resets=dict(env.totals),
        machine=machine_info(device),
    )


def write_json(result: dict | list, path: str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(result, indent=1) + "\n")


def report(result: dict) -> str:
    line = (
        f"bench {result['kind']}: {result['backend']} on {result['device']} "
        f"({result['machine'].get('gpu', result['machine']['cpu'])}), {result['envs']} envs x "
        f"{result['steps']} steps in {result['seconds']:.2f} s: {result['world_steps_per_s']:,.0f} world-steps/s"
    )
    if "env_steps_per_s" in result:
        ratio = 100 * result["env_to_sim_ratio"]
        line += f"; full env {result['env_steps_per_s']:,.0f} steps/s = {ratio:.0f} % of raw physics"
    return line
