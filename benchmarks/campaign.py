"""A training campaign: samples that add up across sessions and machines.

One segment continues the campaign's newest checkpoint for a wall-clock budget on whatever machine
runs it, evaluates the result (16 episodes x 160 steps, SR mode, seed 0: the same starts every
time), appends a row to ``benchmarks/results/campaign-<name>.json`` and keeps two files:

- ``runs/campaigns/<name>/latest.pth``: the newest compact resumable file (this machine only);
- ``policies/campaign-<name>.pth`` (+ ``.eval.json``): the committed one. It is replaced when the
  segment's eval beats the file's (success rate, then NR), unless a git commit already changed it
  today (``--force`` overrides that): every committed version stays in git history, so at most one
  ~7 MB version a day. Replacing a version no commit holds yet costs nothing. A segment starts
  from whichever of the two has trained on more samples (on a fresh clone, another machine: the
  committed file), or from ``--start-from``: a branch trained with other settings that beat it
  (the row's ``started_from`` keeps the lineage). Segments may run side by side, one per core: each
  reads the results file again before it compares and appends its row.

    OMP_NUM_THREADS=1 nohup taskset -c 1 python benchmarks/campaign.py --name lleg_style1 --minutes 40 &
    python benchmarks/campaign.py --name layup --minutes 8 --device cuda --num-envs 4096 ppo.num_minibatches=8

A new campaign starts from ``--preset`` and ``--motion`` (``CAMPAIGNS`` has the defaults); later
segments take the checkpoint's own config (``train --resume-from``), plus the command's overrides.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CAMPAIGNS = {
    "lleg_style1": dict(motion="ballplay-m/lleg_style1", preset="train/teacher.yaml"),
    "layup": dict(motion="ballplay-m/layup", preset="train/fast.yaml"),
}
EVAL = dict(episodes=16, steps=160, seed=0)
LINE = re.compile(r"samples ([\d,]+)\s+([\d,]+) samples/s\s+reward ([\d.]+)")


def machine(device: str) -> str:
    """What trained a segment, in words: the GPU's name, else the CPU model and the cores used."""
    if device.startswith("cuda"):
        import torch

        return f"{torch.cuda.get_device_name(0)} (cuda)"
    model = next(
        (ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines() if "model name" in ln),
        platform.processor() or "cpu",
    )
    return f"{model}, {platform.node()}"


def samples_of(path: Path) -> int:
    """Environment steps a checkpoint has trained on."""
    import torch

    return int(torch.load(path, map_location="cpu", weights_only=True)["frame"])


def committed_today(path: Path) -> bool:
    """A git commit of today already changed ``path`` (one version a day stays in the history)."""
    out = subprocess.run(
        ["git", "log", "-1", "--format=%cs", "--", path.name], cwd=path.parent, capture_output=True, text=True
    ).stdout.strip()
    return out == datetime.date.today().isoformat()


def better(new: dict, old: dict | None) -> bool:
    """Success rate decides, then NR (for a skill none of whose episodes succeed yet)."""
    if old is None:
        return True
    return (new["success_rate"], new["normalized_reward"]) > (old["success_rate"], old["normalized_reward"])


def _rel(path: Path, root: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def run(cmd: list[str], log) -> str:
    print("$", " ".join(cmd), flush=True)
    log.write(f"$ {' '.join(cmd)}\n")
    log.flush()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = []
    for line in proc.stdout:
        out.append(line)
        log.write(line)
        log.flush()
    if proc.wait() != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{''.join(out[-20:])}")
    return "".join(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--name", required=True, help=f"the campaign ({', '.join(CAMPAIGNS)} or a new one)")
    p.add_argument("--minutes", type=float, required=True, help="training wall clock of this segment")
    p.add_argument("--motion", help="a new campaign's motion (default: CAMPAIGNS)")
    p.add_argument("--preset", help="a new campaign's preset (default: CAMPAIGNS)")
    p.add_argument(
        "--start-from",
        help="continue this checkpoint instead of the campaign's newest state (a new campaign's first one, or "
        "a branch that beat it: a run's last.pth or a segment's file; default: the newest, else the preset)",
    )
    p.add_argument("--device", default="cpu")
    p.add_argument("--num-envs", type=int, help="worlds for this segment (default: the checkpoint's)")
    p.add_argument("--force", action="store_true", help="replace the committed file even if replaced today")
    p.add_argument("--root", type=Path, default=ROOT, help="where benchmarks/results, policies and runs are")
    p.add_argument("overrides", nargs="*", help="key=value for this segment's training")
    a = p.parse_args()
    name = a.name
    defaults = CAMPAIGNS.get(name, {})
    root = a.root.resolve()
    results = root / "benchmarks" / "results" / f"campaign-{name}.json"
    committed = root / "policies" / f"campaign-{name}.pth"
    work = root / "runs" / "campaigns" / name
    work.mkdir(parents=True, exist_ok=True)
    committed.parent.mkdir(parents=True, exist_ok=True)
    results.parent.mkdir(parents=True, exist_ok=True)
    latest = work / "latest.pth"
    book = json.loads(results.read_text()) if results.exists() else None
    if book is None:
        motion, preset = a.motion or defaults.get("motion"), a.preset or defaults.get("preset")
        if not motion or not preset:
            sys.exit(f"campaign {name!r} is new: pass --motion and --preset")
        book = dict(campaign=name, motion=motion, preset=preset, eval=EVAL, rows=[])
    rows = book["rows"]

    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_name = f"{name}-{stamp}"
    runs_dir = work / "runs"
    log = open(work / f"{run_name}.log", "w")
    cmd = [sys.executable, "-m", "skillmimic", "train", "--run", run_name, "--minutes", str(a.minutes)]
    cmd += ["--device", a.device]
    if a.num_envs:
        cmd += ["--num-envs", str(a.num_envs)]
    if a.start_from:
        source: Path | None = Path(a.start_from).resolve()
    else:  # the file with the most samples: this machine's latest, else the committed one (a fresh clone)
        have = [(samples_of(f), f == latest, f) for f in (latest, committed) if f.exists()]
        source = max(have)[2] if have else None
    source_samples = 0
    if source is not None:
        cmd += ["--resume-from", str(source)]
        source_samples = samples_of(source)
    else:
        cmd += ["--config", book["preset"], "--motion", book["motion"]]
    t0 = time.time()
    out = run([*cmd, f"runs_dir={runs_dir}", "ppo.save_frequency=50", *a.overrides], log)
    wall = time.time() - t0
    lines = LINE.findall(out)
    ckpt = runs_dir / run_name / "nn" / "last.pth"
    segment = work / f"{run_name}.pth"
    run(
        [sys.executable, "-m", "skillmimic", "export-policy", "--checkpoint", str(ckpt), "--out", str(segment)]
        + ["--resumable"],
        log,
    )
    ev = work / f"{run_name}.eval.json"
    run(
        [sys.executable, "-m", "skillmimic", "eval", "--checkpoint", str(segment), "--motion", book["motion"]]
        + ["--episodes", str(EVAL["episodes"]), "--steps", str(EVAL["steps"]), "--seed", str(EVAL["seed"])]
        + ["--num-envs", "16", "--device", a.device, "--json", str(ev)],
        log,
    )
    o = json.loads(ev.read_text())["overall"]
    ev600 = work / f"{run_name}.eval600.json"  # the same starts, 600 steps: does the skill last 10 s?
    run(
        [sys.executable, "-m", "skillmimic", "eval", "--checkpoint", str(segment), "--motion", book["motion"]]
        + ["--episodes", str(EVAL["episodes"]), "--steps", "600", "--seed", str(EVAL["seed"])]
        + ["--num-envs", "16", "--device", a.device, "--json", str(ev600)],
        log,
    )
    o600 = json.loads(ev600.read_text())["overall"]
    samples = samples_of(segment)
    shutil.copy(segment, latest)
    if results.exists():  # re-read: a segment that ran beside this one may have added its row meanwhile
        book = json.loads(results.read_text())
        rows = book["rows"]
    best = next((r["eval"] for r in reversed(rows) if r.get("committed")), None)
    commit = better(o, best) and (a.force or not committed_today(committed))
    if commit:
        shutil.copy(segment, committed)
        shutil.copy(ev, committed.with_suffix(".eval.json"))
    row = dict(
        date=datetime.datetime.now().isoformat(timespec="seconds"),
        machine=machine(a.device),
        device=a.device,
        started_from=_rel(source, root) if source else f"{book['preset']} (new)",
        overrides=a.overrides,
        samples_total=samples,
        segment_samples=samples - source_samples,
        wall_clock_s=round(wall, 1),
        samples_per_s=float(lines[-1][1].replace(",", "")) if lines else None,
        train_reward=float(lines[-1][2]) if lines else None,
        eval=dict(
            success_rate=o["success_rate"],
            upstream_success_rate=o["upstream_success_rate"],
            normalized_reward=o["normalized_reward"],
            fall_rate=o["fall_rate"],
            ball_kept_steps=o["ball_kept_steps"],
            mean_episode_length=o["mean_episode_length"],
        ),
        eval_600_steps=dict(
            success_rate=o600["success_rate"],
            normalized_reward=o600["normalized_reward"],
            fall_rate=o600["fall_rate"],
            mean_episode_length=o600["mean_episode_length"],
        ),
        committed=commit,
    )
    rows.append(row)
    results.write_text(json.dumps(book, indent=1) + "\n")
    print(json.dumps(row, indent=1))
    print(f"{'replaced' if commit else 'kept'} {committed}; wrote {results}")


if __name__ == "__main__":
    main()
