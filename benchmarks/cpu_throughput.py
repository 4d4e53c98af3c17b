"""CPU training throughput of the README main job, old settings against new, in one run.

    python benchmarks/cpu_throughput.py [--tree head=/tmp/old] [--epochs 20] [--rounds 3]
                                        [--profile 10] [--json benchmarks/results/cpu-throughput.json]

Every variant runs the main job (``skillmimic train --motion ballplay-m/layup``: default config,
16 worlds, MuJoCo C on the CPU) in a fresh process and reports the samples/s of its per-epoch
lines. Variants differ in what is switchable at run time: OpenMP's wait policy
(``GOMP_SPINCOUNT=300000`` is libgomp's own default spin, which keeps skillmimic from making OpenMP
wait passively), oneDNN dense layers (``SKILLMIMIC_ONEDNN_LINEAR=1``, opt-in), MuJoCo C workers
(``sim.threads``), torch intra-op threads (``SKILLMIMIC_TORCH_THREADS``, see below), and which code
runs: ``--tree NAME=PATH`` adds a variant that imports ``skillmimic`` from another checkout, e.g.
the code before the speed-ups (``git worktree add /tmp/old 504d77a``).

rl-games' ``Runner`` sets torch's thread count itself (``min(4, cores)``) unless the params say
``torch_threads: 0``; the thread-count variants only run for a tree whose ``train.py`` passes that
and calls ``skillmimic.threads.configure_threads``. Otherwise every variant trains with rl-games'
choice, two threads on a 2-core machine (which is also what ``configure_threads`` picks there when
OpenMP waits passively).

The machine may be shared and its load changes by the minute, so the variants run round-robin
(each round in another order), the first ``--skip`` epochs of a run are dropped (warm-up), and the
summary is the median over all remaining epochs of all rounds, with each round's median and the
load average next to it. ``--profile N`` adds a cProfile of an N-epoch run of each code tree
(top entries by own time).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EPOCH_LINE = re.compile(r"^epoch (\d+)/\d+\s+samples [\d,]+\s+([\d,]+) samples/s", re.M)

# name -> (tree, environment, overrides). Tree None is this checkout.
CURRENT = {
    "new (defaults)": (None, {}, []),
    "new, oneDNN dense layers": (None, {"SKILLMIMIC_ONEDNN_LINEAR": "1"}, []),
    "new, OpenMP spinning (libgomp default)": (None, {"GOMP_SPINCOUNT": "300000"}, []),
    "new, MuJoCo C 1 worker": (None, {}, ["sim.threads=1"]),
}
THREAD_VARIANTS = {  # only where train.py lets skillmimic.threads size torch's pool
    "new, torch 1 thread": (None, {"SKILLMIMIC_TORCH_THREADS": "1"}, []),
    "new, torch 2 threads": (None, {"SKILLMIMIC_TORCH_THREADS": "2"}, []),
    "new, torch 2 threads, OpenMP spinning": (None, {"SKILLMIMIC_TORCH_THREADS": "2", "GOMP_SPINCOUNT": "300000"}, []),
}


def tree_variants(name: str, path: str) -> dict:
    # rl-games sizes torch's pool for code that does not (see the module doc): nothing to switch
    return {f"{name} (as it was: torch threads by rl-games, OpenMP spinning)": (path, {}, [])}


def threads_wired(tree: str | None) -> bool:
    train = Path(tree or REPO) / "skillmimic" / "learning" / "train.py"
    text = train.read_text() if train.is_file() else ""
    return '"torch_threads"' in text and "configure_threads" in text


def _env(tree: str | None, extra: dict) -> dict:
    env = dict(os.environ)
    for k in (
        "SKILLMIMIC_TORCH_THREADS",
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "SKILLMIMIC_ONEDNN_LINEAR",
        "OMP_WAIT_POLICY",
        "GOMP_SPINCOUNT",
    ):
        env.pop(k, None)
    env["PYTHONPATH"] = str(Path(tree).resolve()) if tree else str(REPO)
    env.update(extra)
    return env


def loadavg() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except OSError:
        return float("nan")


def run_once(tree, extra_env, overrides, motion: str, epochs: int, runs_dir: str, tag: str) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "skillmimic",
        "train",
        "--motion",
        motion,
        "--epochs",
        str(epochs),
        "--run",
        tag,
        f"runs_dir={runs_dir}",
        *overrides,
    ]
    load0, t0 = loadavg(), time.perf_counter()
    out = subprocess.run(cmd, env=_env(tree, extra_env), cwd=runs_dir, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    rates = [float(r.replace(",", "")) for _, r in EPOCH_LINE.findall(out.stdout)]
    return dict(rates=rates, wall_s=round(wall, 2), load_before=load0, load_after=loadavg())


PROFILE = r"""
import cProfile, io, pstats, sys
from skillmimic.learning.train import train
pr = cProfile.Profile()
pr.enable()
train(overrides=["motion=%(motion)s", "epochs=%(epochs)d", "runs_dir=%(runs)s"], run="profile")
pr.disable()
st = pstats.Stats(pr)
total = max(st.total_tt, 1e-9)
rows = sorted(st.stats.items(), key=lambda kv: -kv[1][2])[:%(top)d]
for (f, line, fn), (cc, nc, tt, ct, _) in rows:
    where = fn if f == "~" else f"{f.split('site-packages/')[-1].split('/skillmimic/')[-1]}:{line}({fn})"
    print(f"PROFILE\t{nc}\t{tt:.3f}\t{100 * tt / total:.1f}\t{ct:.3f}\t{where}")
print(f"PROFILE_TOTAL\t{total:.3f}")
"""


def profile(tree, extra_env, motion: str, epochs: int, top: int) -> dict:
    with tempfile.TemporaryDirectory() as runs:
        code = PROFILE % dict(motion=motion, epochs=epochs, runs=runs, top=top)
        out = subprocess.run(
            [sys.executable, "-c", code], env=_env(tree, extra_env), cwd=runs, capture_output=True, text=True
        )
    if out.returncode != 0:
        raise RuntimeError(f"profile failed:\n{out.stderr[-2000:]}")
    rows = [line.split("\t")[1:] for line in out.stdout.splitlines() if line.startswith("PROFILE\t")]
    total = next(float(line.split("\t")[1]) for line in out.stdout.splitlines() if line.startswith("PROFILE_TOTAL"))
    return dict(
        epochs=epochs,
        total_s=total,
        load=loadavg(),
        top=[dict(calls=r[0], own_s=float(r[1]), own_pct=float(r[2]), cum_s=float(r[3]), where=r[4]) for r in rows],
    )


def machine() -> dict:
    import platform

    import torch

    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    return dict(cpu=cpu, cores=len(os.sched_getaffinity(0)), python=platform.python_version(), torch=torch.__version__)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--motion", default="ballplay-m/layup")
    ap.add_argument("--epochs", type=int, default=20, help="epochs per run (the main job runs 20)")
    ap.add_argument("--skip", type=int, default=2, help="first epochs of each run left out (warm-up)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument(
        "--tree",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="also run the code of another checkout (e.g. head=/tmp/old)",
    )
    ap.add_argument("--new-tree", default=None, help="run the 'new' variants from this checkout instead of this one")
    ap.add_argument("--only", default=None, help="regular expression: run the variants whose name matches")
    ap.add_argument("--profile", type=int, default=0, metavar="EPOCHS", help="also profile each code tree")
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)

    wired = threads_wired(a.new_tree)
    chosen = {**CURRENT, **THREAD_VARIANTS} if wired else CURRENT
    variants = {k: (a.new_tree, e, o) for k, (_, e, o) in chosen.items()}
    for spec in a.tree:
        name, path = spec.split("=", 1)
        variants.update(tree_variants(name, path))
    if a.only:
        variants = {k: v for k, v in variants.items() if re.search(a.only, k)}
    names = list(variants)
    if not wired:
        print(
            "note: this tree's train.py leaves torch's thread count to rl-games (no \"torch_threads\": 0 and "
            "configure_threads call): no thread-count variants",
            flush=True,
        )
    runs: dict[str, list[dict]] = {k: [] for k in names}
    with tempfile.TemporaryDirectory() as runs_dir:
        for r in range(a.rounds):
            order = names[r % len(names) :] + names[: r % len(names)]
            for i, name in enumerate(order):
                tree, env, overrides = variants[name]
                res = run_once(tree, env, overrides, a.motion, a.epochs, runs_dir, f"r{r}_{i}")
                runs[name].append(res)
                kept = res["rates"][a.skip :]
                print(
                    f"round {r + 1}/{a.rounds}  {name}: median {statistics.median(kept):,.0f} samples/s "
                    f"(wall {res['wall_s']} s, load {res['load_before']:.1f}->{res['load_after']:.1f})",
                    flush=True,
                )

    summary = {}
    for name in names:
        kept = [x for res in runs[name] for x in res["rates"][a.skip :]]
        summary[name] = dict(
            median=round(statistics.median(kept), 1),
            round_medians=[round(statistics.median(res["rates"][a.skip :]), 1) for res in runs[name]],
            min=min(kept),
            max=max(kept),
            epochs_counted=len(kept),
        )
    print(f"\nmedian samples/s over all rounds (epochs after the first {a.skip}):")
    for name, s in summary.items():
        print(f"  {s['median']:>8,.0f}  {name}   rounds {s['round_medians']}")

    result = dict(
        kind="cpu-train-throughput",
        machine=machine(),
        motion=a.motion,
        num_envs=16,
        epochs=a.epochs,
        threads_wired=wired,
        skip=a.skip,
        rounds=a.rounds,
        time=time.strftime("%Y-%m-%d %H:%M:%S"),
        trees={spec.split("=", 1)[0]: spec.split("=", 1)[1] for spec in a.tree},
        summary=summary,
        runs=runs,
    )
    if a.profile:
        trees = {"new": (a.new_tree, {})}
        for spec in a.tree:
            name, path = spec.split("=", 1)
            trees[name] = (path, {})
        result["profiles"] = {}
        for name, (tree, env) in trees.items():
            p = profile(tree, env, a.motion, a.profile, a.top)
            result["profiles"][name] = p
            print(f"\nprofile of {name}: {a.profile} epochs, {p['total_s']:.1f} s, load {p['load']:.1f}")
            for row in p["top"]:
                print(f"  {row['own_s']:8.3f} s {row['own_pct']:5.1f} %  {row['calls']:>8}  {row['where']}")
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
