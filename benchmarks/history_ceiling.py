"""How far below "next = current" can any history model get on a clip set's held-out blocks?

The history encoder's offline target (validation next-state MSE clearly below "next = current"
and the no-history head) assumes the next frame is predictable from the past. This measures an
optimistic ceiling without the encoder's 3-value bottleneck: ridge regression of the next change
on the current frame and the full changes of the last k frames (k = 0 is the no-history case),
the ridge strength picked on the validation blocks themselves (optimistic on purpose). Same
samples and held-out blocks as ``skillmimic hist train`` (``history_dataset``), errors with
hinge changes wrapped to [-pi, pi) (a 2 pi wrap is no motion), whole frame and the 160 values
that are not joint angles. Also counts capture glitches: joints whose rotation turns by more than
0.5 rad (30 rad/s) between two frames.

    python benchmarks/history_ceiling.py --motion skillmimic-v2/Sigraph_experiment/exp1 --seeds 0 1 2 \
        --json benchmarks/results/history-ceiling-cpu.json
"""

from __future__ import annotations

import argparse
import json

import torch

from skillmimic import rotations as rot
from skillmimic.bench import machine_info
from skillmimic.envs.history import window_index
from skillmimic.humanoid import NUM_JOINTS
from skillmimic.learning.history_encoder import _BODY, change, history_dataset, train_history_encoder
from skillmimic.motion.library import MotionLibrary

LAMBDAS = (1.0, 10.0, 1e2, 1e3, 1e4, 1e5)


def _ridge(x: torch.Tensor, y: torch.Tensor, train: torch.Tensor) -> dict[str, float]:
    """Validation MSE (whole frame, non-angle values) of the best ridge fit of y on x."""
    x = torch.cat((x, torch.ones_like(x[:, :1])), dim=1)
    mu, sd = x[train].mean(0), x[train].std(0).clamp_min(1e-6)
    mu[-1], sd[-1] = 0.0, 1.0
    x = (x - mu) / sd
    xt, yt, val = x[train], y[train], ~train
    best = None
    for lam in LAMBDAS:
        w = torch.linalg.solve(xt.T @ xt + lam * torch.eye(x.shape[1], dtype=x.dtype), xt.T @ yt)
        e = (x[val] @ w - y[val]) ** 2
        cand = dict(all=float(e.mean()), body=float(e[:, _BODY].mean()), ridge=lam)
        if best is None or cand["all"] < best["all"]:
            best = cand
    return best


def measure(lib, seed: int, ks=(0, 1, 2, 5), model: bool = True) -> dict:
    data = history_dataset(lib, seed)
    table, rows, train = data.table.double(), data.rows, ~data.val
    cur, nxt = table[rows + 1], table[rows + 2]
    hist = table[window_index(rows, data.clip_start)]
    y = change(cur, nxt)
    past = [torch.where((hist[:, -i] != 0).any(1, keepdim=True), hist[:, -i], cur) for i in range(1, max(ks) + 1)]
    e0 = y[data.val] ** 2
    out = {
        "train_samples": int(train.sum()),
        "val_samples": int(data.val.sum()),
        "next_equals_current": dict(all=float(e0.mean()), body=float(e0[:, _BODY].mean())),
    }
    for k in ks:
        feats = [cur] + [change(p, cur) for p in past[:k]]
        out[f"ridge_k{k}"] = _ridge(torch.cat(feats, dim=1), y, train)
    if model:
        _, m = train_history_encoder(lib, seed=seed, progress=False)
        out["model"] = dict(all=m["val_mse_wrapped"], body=m["val_mse_body"])
        out["no_history_head"] = dict(all=m["val_mse_no_history_wrapped"], body=m["val_mse_no_history_body"])
    return out


def glitches(lib) -> dict:
    q = rot.quat_from_hinges(lib.frames.dof_pos.double().reshape(-1, NUM_JOINTS, 3))
    same_clip = lib.frame_clip[1:] == lib.frame_clip[:-1]
    ok = same_clip & lib.valid[1:] & lib.valid[:-1]
    turn = 2 * torch.acos((q[1:] * q[:-1]).sum(-1).abs().clamp(max=1.0))[ok]  # [steps, joints]
    return dict(steps=int(ok.sum()), joint_steps_over_0_5_rad=int((turn > 0.5).sum()), max_rad=float(turn.max()))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--motion", default="skillmimic-v2/Sigraph_experiment/exp1")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--no-model", action="store_true", help="skip training the history encoder")
    p.add_argument("--json")
    a = p.parse_args()
    lib = MotionLibrary.load(a.motion)
    res = dict(motion=a.motion, machine=machine_info("cpu"), glitches=glitches(lib), seeds={})
    print(f"{a.motion}: {res['glitches']}")
    for s in a.seeds:
        r = measure(lib, s, model=not a.no_model)
        res["seeds"][str(s)] = r
        base = r["next_equals_current"]["all"]
        parts = {k: v for k, v in r.items() if isinstance(v, dict)}
        cells = [f"{k} {v['all']:.3e} ({100 * (v['all'] / base - 1):+.1f} %)" for k, v in parts.items()]
        print(f"seed {s}: " + ", ".join(cells), flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
