"""The one GPU command: every measurement of a GPU session in one time-boxed run.

Stages (each a subprocess with its own time limit, so one failure never costs the rest):
machine -> raw physics (MuJoCo Warp) at 1024/4096/8192 worlds with and without CUDA graphs ->
full env at 4096 -> a time-boxed training run on one clip with the fast preset -> exported policy
-> its deterministic eval. Results go to ``$OUT`` (or ``--out``): ``gpu.json`` (every stage's
numbers, status and seconds), ``log.txt``, the tensorboard events, the exported policy and its
eval JSON. The training run gets whatever the budget leaves after the benchmarks, less the eval.

``--skip-bench`` leaves out the benchmarks (measured twice on an H200, benchmarks/README.md) so the
whole budget trains; ``--resume`` continues the previous command's run (its checkpoint stays in
``--work``, which a GPU machine keeps between two commands issued within 30 s), so a session's
second command adds training time instead of starting over.

``--device cpu --tiny`` is the dry run (small sizes, seconds per stage) that a test runs, so the
GPU command does not die on a typo. See benchmarks/README.md for how the GPU session calls it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES = dict(
    full=dict(
        worlds=(1024, 4096, 8192),
        sim_steps=200,
        eager_steps=20,
        env_worlds=4096,
        env_steps=100,
        train_envs=4096,
        episodes=16,
        eval_steps=160,
        eval_envs=16,
        # The preset's horizon 32 (horizon 16 cost 34-42 % NR per sample on the CPU) and 8 minibatches
        # of 16 k: the steps per sample of the H200 runs with horizon 16 (benchmarks/README.md, "Epoch shape")
        train_overrides=("ppo.num_minibatches=8",),
    ),
    tiny=dict(
        worlds=(8, 16),
        sim_steps=5,
        eager_steps=3,
        env_worlds=8,
        env_steps=5,
        train_envs=8,
        episodes=2,
        eval_steps=10,
        eval_envs=2,
        train_overrides=("ppo.horizon_length=8",),
    ),
)


class Stages:
    def __init__(self, out: Path, budget_s: float):
        self.out, self.t0, self.budget = out, time.monotonic(), budget_s
        self.log = open(out / "log.txt", "a")
        self.results: dict = {"stages": []}

    def left(self) -> float:
        return self.budget - (time.monotonic() - self.t0)

    def say(self, text: str) -> None:
        line = f"[{time.monotonic() - self.t0:6.1f} s] {text}"
        print(line, flush=True)
        self.log.write(line + "\n")
        self.log.flush()

    def run(self, name: str, cmd: list[str], timeout: float, env: dict | None = None) -> bool:
        timeout = max(20.0, min(timeout, self.left() + 30.0))  # a stage may run 30 s into the margin
        self.say(f"{name}: {' '.join(cmd)} (limit {timeout:.0f} s)")
        t = time.monotonic()
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})
            status, text = ("ok" if p.returncode == 0 else f"exit {p.returncode}"), p.stdout + p.stderr
        except subprocess.TimeoutExpired as e:
            status = "timeout"
            text = (
                (e.stdout or b"").decode(errors="replace") + (e.stderr or b"").decode(errors="replace")
                if isinstance(e.stdout, bytes)
                else (e.stdout or "") + (e.stderr or "")
            )
        seconds = round(time.monotonic() - t, 1)
        self.log.write(text + "\n")
        tail = [s for s in text.strip().splitlines() if s.strip()][-3:]
        self.say(f"{name}: {status} in {seconds} s" + "".join(f"\n    {s}" for s in tail))
        self.results["stages"].append(dict(name=name, status=status, seconds=seconds, command=" ".join(cmd)))
        self.save()
        return status == "ok"

    def save(self) -> None:
        self.results["elapsed_s"] = round(time.monotonic() - self.t0, 1)
        (self.out / "gpu.json").write_text(json.dumps(self.results, indent=1) + "\n")


def gpu_name(device: str) -> str:
    if device.startswith("cuda"):
        try:
            return (
                subprocess.run(
                    ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                    capture_output=True,
                    text=True,
                    timeout=20,
                ).stdout.strip()
                or "unknown GPU"
            )
        except (OSError, subprocess.TimeoutExpired):
            import torch

            return torch.cuda.get_device_name(0)
    return "none (CPU dry run)"


def benchmarks(st: Stages, sm: list[str], a: argparse.Namespace, z: dict, bench_dir: Path) -> None:
    """Raw physics with and without CUDA graphs, then the full env; numbers into ``st.results``."""
    # 1. Raw physics, one process per launch mode (an eager hang cannot cost the graph numbers). The
    # first run compiles the kernels: print each module's load time.
    for graph in (True, False):
        tag = f"sim-{'graph' if graph else 'eager'}"
        cmd = [
            *sm,
            "bench",
            "sim",
            "--backend",
            "mjwarp",
            "--device",
            a.device,
            "--envs",
            *map(str, z["worlds"]),
            "--steps",
            str(z["sim_steps"] if graph else z["eager_steps"]),
            "--warmup",
            "3",
            "--json",
            str(bench_dir / f"{tag}.json"),
        ]
        if st.run(
            tag,
            cmd + ([] if graph else ["--no-graph"]),
            timeout=300 if graph else 120,
            env={"SKILLMIMIC_WARP_VERBOSE": "1"} if graph else None,
        ):
            st.results[tag] = json.loads((bench_dir / f"{tag}.json").read_text())
    # 2. Full env next to raw physics.
    tag = f"env-{z['env_worlds']}"
    if st.run(
        tag,
        [
            *sm,
            "bench",
            "env",
            "--backend",
            "mjwarp",
            "--device",
            a.device,
            "--envs",
            str(z["env_worlds"]),
            "--steps",
            str(z["env_steps"]),
            "--warmup",
            "3",
            "--motion",
            a.motion,
            "--json",
            str(bench_dir / f"{tag}.json"),
        ],
        timeout=120,
    ):
        st.results[tag] = json.loads((bench_dir / f"{tag}.json").read_text())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--tiny", action="store_true", help="dry-run sizes (seconds per stage)")
    p.add_argument("--out", default=os.environ.get("OUT") or "runs/gpu")
    p.add_argument("--budget", type=float, default=460.0, help="seconds for everything (default 460)")
    p.add_argument("--motion", default="ballplay-m/layup")
    p.add_argument("--eval-reserve", type=float, default=70.0, help="seconds kept for export + eval after training")
    p.add_argument("--skip-bench", action="store_true", help="no benchmarks: the whole budget trains")
    p.add_argument("--resume", action="store_true", help="continue the training run left in --work")
    p.add_argument(
        "--work",
        default=str(Path(tempfile.gettempdir()) / "skillmimic-gpu"),
        help="scratch folder; the training run stays here for --resume (default: <tmp>/skillmimic-gpu)",
    )
    p.add_argument(
        "overrides", nargs="*", help="key=value for the training run (a fresh one), e.g. ppo.num_minibatches=16"
    )
    a = p.parse_args()
    if a.resume and a.overrides:
        p.error("--resume continues the run with its own config; overrides apply to a fresh run only")
    z = SIZES["tiny" if a.tiny else "full"]
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    budget = float("inf") if a.tiny else a.budget  # the dry run checks every stage, not the clock
    st = Stages(out, budget)
    sm = [sys.executable, "-m", "skillmimic"]
    gpu = gpu_name(a.device)
    st.results.update(
        device=a.device,
        gpu=gpu,
        sizes="tiny" if a.tiny else "full",
        budget_s=None if a.tiny else budget,
        resumed=a.resume,
    )
    st.say(f"GPU: {gpu}")
    work = Path(a.work)  # $OUT takes at most 8 files: the rest stays here
    bench_dir = work / "bench"
    shutil.rmtree(bench_dir, ignore_errors=True)
    bench_dir.mkdir(parents=True)
    runs = work / "runs"
    run = "gpu_layup"
    if not a.resume:
        shutil.rmtree(runs / run, ignore_errors=True)  # a fresh command starts a fresh run

    if not a.skip_bench:
        benchmarks(st, sm, a, z, bench_dir)

    # 3. Time-boxed training with the fast preset: what the budget leaves, less export + eval.
    # Start-up and save take ~30 s; the first MuJoCo Warp process on a machine also compiles the CUDA
    # kernels (70 s on an H200) before the training clock starts: without the benchmarks, training pays.
    startup = 120.0 if a.skip_bench and not a.resume else 30.0
    minutes = 0.05 if a.tiny else max(0.5, (st.left() - a.eval_reserve - startup) / 60.0)
    st.results["train_minutes"] = round(minutes, 2)
    fresh = ["--config", "train/fast.yaml", "--motion", a.motion, "--num-envs", str(z["train_envs"])]
    st.run(
        "train",
        [
            *sm,
            "train",
            *(["--resume"] if a.resume else fresh),
            "--device",
            a.device,
            "--backend",
            "mjwarp",
            "--minutes",
            f"{minutes:.2f}",
            "--run",
            run,
            f"runs_dir={runs}",
            *([] if a.resume else [*z["train_overrides"], *a.overrides]),
        ],
        timeout=60 * minutes + startup + 60,
    )
    ckpt = runs / run / "nn" / "last.pth"
    events = sorted((runs / run / "summaries").glob("events*"), key=lambda f: f.stat().st_mtime)
    if events:  # a resumed run writes a second events file: this command's
        shutil.copy(events[-1], out / "train.tfevents")
    train_log = [s for s in (out / "log.txt").read_text().splitlines() if s.startswith("epoch ")]
    st.results["train_epochs"] = train_log

    # 4. Export the policy and evaluate it.
    policy = out / "layup.pth"
    if ckpt.exists() and st.run(
        "export", [*sm, "export-policy", "--checkpoint", str(ckpt), "--out", str(policy)], timeout=60
    ):
        ev = out / "eval.json"
        if st.run(
            "eval",
            [
                *sm,
                "eval",
                "--checkpoint",
                str(policy),
                "--motion",
                a.motion,
                "--episodes",
                str(z["episodes"]),
                "--steps",
                str(z["eval_steps"]),
                "--num-envs",
                str(z["eval_envs"]),
                "--device",
                a.device,
                "--backend",
                "mjwarp",
                "--json",
                str(ev),
            ],
            timeout=max(a.eval_reserve, 30),
        ):
            st.results["eval"] = json.loads(ev.read_text())["overall"]
    shutil.rmtree(bench_dir, ignore_errors=True)  # the run stays in --work for a --resume
    failed = [s["name"] for s in st.results["stages"] if s["status"] != "ok"]
    st.results["failed"] = failed
    st.save()
    st.say(f"done in {st.results['elapsed_s']} s; failed stages: {', '.join(failed) or 'none'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
