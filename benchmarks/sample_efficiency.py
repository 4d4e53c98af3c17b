"""Eval NR against training samples for presets x seeds (CPU, one clip).

Each run trains in chunks (``train --resume``) and after every chunk runs the deterministic
``eval`` (16 episodes of 160 steps): step rewards are not comparable across termination rules,
eval NR is. Writes one JSON with every point and prints a table.

    python benchmarks/sample_efficiency.py --presets train/skillmimic.yaml train/fast.yaml \
        --seeds 0 1 --samples 300000 --chunk 50000 --out benchmarks/results/sample-efficiency.json
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

LINE = re.compile(r"samples ([\d,]+)\s+([\d,]+) samples/s\s+reward ([\d.]+).*ep_len ([\d.na]+)")


def run(cmd: list[str], log) -> str:
    out = subprocess.run(cmd, capture_output=True, text=True)
    log.write(f"$ {' '.join(cmd)}\n{out.stdout[-4000:]}\n{out.stderr[-2000:]}\n")
    log.flush()
    if out.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{out.stderr[-2000:]}")
    return out.stdout


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--presets", nargs="+", default=["train/skillmimic.yaml", "train/fast.yaml"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    p.add_argument("--motion", default="ballplay-m/layup")
    p.add_argument("--num-envs", type=int, default=64)
    p.add_argument("--samples", type=int, default=300_000)
    p.add_argument("--chunk", type=int, default=50_000)
    p.add_argument("--runs-dir", default="runs/sample_efficiency")
    p.add_argument("--out", default="benchmarks/results/sample-efficiency.json")
    p.add_argument("overrides", nargs="*", help="key=value applied to every run")
    a = p.parse_args()
    per_epoch = a.num_envs * 32
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    results = json.loads(out.read_text()) if out.exists() else {}
    log = open(out.with_suffix(".log"), "a")
    for preset in a.presets:
        for seed in a.seeds:
            name = f"{Path(preset).stem}_s{seed}" + ("_" + "_".join(a.overrides) if a.overrides else "")
            name = re.sub(r"[^A-Za-z0-9_.-]", "", name)
            points, done, t0 = [], 0, time.time()
            while done < a.samples:
                epochs = -(-min(a.chunk, a.samples - done) // per_epoch)  # ceil: no tiny chunk at the end
                cmd = ["skillmimic", "train", "--run", name, "--epochs", str(epochs)]
                if done:
                    cmd += ["--resume", f"runs_dir={a.runs_dir}"]
                else:
                    cmd += [
                        "--config",
                        preset,
                        "--motion",
                        a.motion,
                        "--num-envs",
                        str(a.num_envs),
                        "--seed",
                        str(seed),
                        f"runs_dir={a.runs_dir}",
                        "ppo.save_frequency=1000000",
                        *a.overrides,
                    ]
                lines = LINE.findall(run(cmd, log))
                done += epochs * per_epoch
                ckpt = f"{a.runs_dir}/{name}/nn/last.pth"
                ev = f"{a.runs_dir}/{name}/eval_{done}.json"
                run(
                    [
                        "skillmimic",
                        "eval",
                        "--checkpoint",
                        ckpt,
                        "--motion",
                        a.motion,
                        "--episodes",
                        "16",
                        "--steps",
                        "160",
                        "--num-envs",
                        "16",
                        "--json",
                        ev,
                    ],
                    log,
                )
                o = json.loads(Path(ev).read_text())["overall"]
                last = lines[-1] if lines else ("0", "0", "nan", "nan")
                points.append(
                    dict(
                        samples=done,
                        eval_nr=o["normalized_reward"],
                        eval_success=o["success_rate"],
                        eval_ep_len=o["mean_episode_length"],
                        eval_fall_rate=o["fall_rate"],
                        eval_ball_steps=o["ball_kept_steps"],
                        train_reward=float(last[2]),
                        train_ep_len=float(last[3]),
                        samples_per_s=float(last[1].replace(",", "")),
                        wall_s=round(time.time() - t0, 1),
                    )
                )
                print(name, points[-1], flush=True)
                results[name] = dict(
                    preset=preset, seed=seed, num_envs=a.num_envs, overrides=a.overrides, motion=a.motion, points=points
                )
                out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
