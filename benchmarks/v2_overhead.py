"""What the SkillMimic-V2 machinery costs per env step: the plain SkillMimic env against the V2
preset's (noisy starts with re-timing, graph switches, buffer steps, adaptive sampling, history
encoder), same clips and worlds, one process, rounds interleaved so machine load hits both alike.

    python benchmarks/v2_overhead.py --envs 64 --steps 300 --rounds 3 --json benchmarks/results/v2-overhead-cpu.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time

import torch

from skillmimic.bench import machine_info
from skillmimic.config import load_config, resolve_device
from skillmimic.learning.train import build_env


def _env(files: list[str], motion: str, envs: int, device: str, runs_dir: str):
    overrides = [f"motion={motion}", f"num_envs={envs}", f"sim.device={device}", f"runs_dir={runs_dir}"]
    return build_env(resolve_device(load_config(files, [*overrides, "history.epochs=5"])))


def _time(env, steps: int) -> float:
    """Seconds per env step over ``steps`` steps of small random actions."""
    gen = torch.Generator().manual_seed(0)
    actions = [0.05 * torch.randn(env.num_envs, env.num_actions, generator=gen).to(env.device) for _ in range(steps)]
    env.reset()
    for a in actions[:10]:  # warm-up
        env.step(a)
    if env.device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for a in actions:
        env.step(a)
    if env.device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / steps


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--motion", default="skillmimic-v2/Sigraph_experiment/exp1")
    p.add_argument("--envs", type=int, default=64)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--json")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as runs:
        envs = {
            "skillmimic": _env([], a.motion, a.envs, a.device, runs),
            "skillmimic_v2": _env(["train/skillmimic_v2.yaml"], a.motion, a.envs, a.device, runs),
        }
        times = {k: [] for k in envs}
        for _ in range(a.rounds):
            for name, env in envs.items():
                times[name].append(_time(env, a.steps))
    ms = {k: 1000 * statistics.median(v) for k, v in times.items()}
    overhead = ms["skillmimic_v2"] / ms["skillmimic"] - 1
    starts = envs["skillmimic_v2"].start_totals
    result = dict(
        motion=a.motion,
        envs=a.envs,
        steps=a.steps,
        rounds=a.rounds,
        device=a.device,
        ms_per_step=ms,
        all_ms=times,
        v2_overhead=round(overhead, 4),
        v2_starts=starts,
        machine=machine_info(a.device),
    )
    print(
        f"env step, {a.envs} worlds on {a.device}: SkillMimic {ms['skillmimic']:.2f} ms, V2 preset "
        f"{ms['skillmimic_v2']:.2f} ms: +{100 * overhead:.1f} % (starts {starts})"
    )
    if a.json:
        with open(a.json, "w") as f:
            f.write(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
