"""One process with two torch threads against two torchrun ranks with one thread each, on one machine.

Both train the same preset on the same clips for the same number of epochs with the same worlds per
epoch (one process: ``--num-envs N``; two ranks: ``N / 2`` each, gradients averaged across them, so
every update sees the same number of samples), then take the same deterministic eval. Reported:
median samples/s after the first epochs, the per-epoch reward at equal samples (the distributed
run's from rank 0's worlds: half of them), and eval NR.

    python benchmarks/distributed.py --epochs 40 --out benchmarks/results/distributed-cpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

LINE = re.compile(r"^epoch (\d+)\S*(?: \[\d+ ranks\])?\s+samples ([\d,]+)\s+([\d,]+) samples/s\s+reward ([\d.]+)")


def _num(s: str) -> int:
    return int(s.replace(",", ""))


def train(name: str, ranks: int, a, runs: Path) -> dict:
    common = ["train", "--config", a.preset, "--motion", a.motion, "--epochs", str(a.epochs), "--device", "cpu"]
    common += ["--num-envs", str(a.num_envs // ranks), f"run={name}", f"runs_dir={runs}", *a.overrides]
    env = dict(os.environ)
    if ranks == 1:
        cmd = [sys.executable, "-m", "skillmimic", *common]
        env.pop("OMP_NUM_THREADS", None)
        env["SKILLMIMIC_TORCH_THREADS"] = str(a.threads)
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(ranks)]
        cmd += ["-m", "skillmimic", *common]
        env["OMP_NUM_THREADS"] = str(max(1, a.threads // ranks))
    t0 = time.monotonic()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.monotonic() - t0
    if out.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    epochs = [m.groups() for m in map(LINE.match, out.stdout.splitlines()) if m]
    curve = [dict(epoch=int(e), samples=_num(s), samples_per_s=_num(r), reward=float(w)) for e, s, r, w in epochs]
    rates = [c["samples_per_s"] for c in curve[a.skip :]]
    ev = runs / f"{name}.eval.json"
    ckpt = runs / name / "nn" / "last.pth"
    args = ["eval", "--checkpoint", str(ckpt), "--motion", a.motion, "--episodes", "2", "--steps", "160"]
    subprocess.run([sys.executable, "-m", "skillmimic", *args, "--device", "cpu", "--json", str(ev)], check=True)
    overall = json.loads(ev.read_text())["overall"]
    return dict(
        command=" ".join(cmd[1:]),
        ranks=ranks,
        threads_per_process=a.threads // ranks,
        worlds_per_process=a.num_envs // ranks,
        wall_s=round(wall, 1),
        median_samples_per_s=statistics.median(rates) if rates else None,
        curve=curve,
        eval_normalized_reward=overall["normalized_reward"],
        eval_fall_rate=overall["fall_rate"],
    )


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--preset", default="train/fast.yaml")
    p.add_argument("--motion", default="ballplay-m/layup")
    p.add_argument("--num-envs", type=int, default=64, help="worlds per epoch in all (split across ranks)")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--threads", type=int, default=2, help="torch threads in all (split across ranks)")
    p.add_argument("--skip", type=int, default=3, help="warm-up epochs left out of the median rate")
    p.add_argument("--runs-dir", default="runs/distributed_bench")
    p.add_argument("--out", default="benchmarks/results/distributed-cpu.json")
    p.add_argument("overrides", nargs="*", help="key=value for both runs")
    a = p.parse_args()
    runs = Path(a.runs_dir).resolve()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    result = dict(
        machine=f"{_cpu_model()}, {os.cpu_count()} cores, {platform.node()}",
        date=time.strftime("%Y-%m-%d"),
        preset=a.preset,
        motion=a.motion,
        epochs=a.epochs,
        worlds_per_epoch=a.num_envs,
        one_process=train(f"one_{stamp}", 1, a, runs),
        two_ranks=train(f"two_{stamp}", 2, a, runs),
    )
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=1) + "\n")
    for key in ("one_process", "two_ranks"):
        r = result[key]
        print(
            f"{key:12s} {r['median_samples_per_s']} samples/s  final reward {r['curve'][-1]['reward']:.3f}  "
            f"eval NR {r['eval_normalized_reward']:.3f}  wall {r['wall_s']} s"
        )
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
