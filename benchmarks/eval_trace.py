"""How eval episodes fail, step by step: the order in which the ball is lost, the body drifts off
the reference and the character falls.

Runs the eval's SR episodes (the same starts, seed and episode rules as ``skillmimic eval``) and
records per step the ball's offset error, the RMS drift of the 18 reward nodes, the root height
and the reward. Prints one line per episode (the step at which each first happened, and the mean
height of the ball's bounce tops against the reference's) and, with
``--every K``, the trace every K steps; ``--json`` writes the per-episode summary. What it showed
first (benchmarks/README.md): the teacher loses the ball, then drifts past the drift limit it
trained with, then falls; it never practised the states after the limit.

    python benchmarks/eval_trace.py --checkpoint policies/campaign-lleg_style1.pth --motion ballplay-m/lleg_style1
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from skillmimic.process import configure_process

DRIFT = 0.5  # m: train/teacher.yaml's drift limit


def first(mask, alive):
    """Step (1-based) at which ``mask`` first holds while the episode is alive, per episode; None if never."""
    hit = mask & alive
    return [int(col.nonzero()[0]) + 1 if col.any() else None for col in hit.T]


def mean_apex(z, alive):
    """Mean height of the local maxima of ``z`` [T, N] while the episode is alive, per episode (None if none)."""
    top = (z[1:-1] >= z[:-2]) & (z[1:-1] > z[2:]) & alive[1:-1]
    return [float(z[1:-1, e][top[:, e]].mean()) if top[:, e].any() else None for e in range(z.shape[1])]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--motion", required=True)
    p.add_argument("--episodes", type=int, default=16, help="per clip (eval's SR starts)")
    p.add_argument("--steps", type=int, default=160)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--every", type=int, default=0, help="print the trace every this many steps (0: off)")
    p.add_argument("--json", type=Path)
    a = p.parse_args()
    configure_process()
    import torch

    from skillmimic.envs.factory import policy_motion
    from skillmimic.envs.sampling import FixedStartSampler, Starts
    from skillmimic.eval.evaluate import BALL_LOST, eval_env, reference_starts
    from skillmimic.policy import load_policy

    policy = load_policy(a.checkpoint, "cpu", "auto")
    lib = policy_motion(policy, a.motion)
    clips, frames = reference_starts(lib, a.episodes, None, torch.Generator().manual_seed(a.seed))
    n = len(clips)
    cfg = policy.config
    env = eval_env(policy, lib, n, a.steps)
    env.sampler = FixedStartSampler(Starts(clips, frames))
    obs = env.reset()
    alive = torch.ones(n, dtype=torch.bool)
    keys = ("alive", "ball", "drift", "height", "reward", "frame", "fell", "ball_z", "ref_ball_z")
    rec: dict[str, list] = {k: [] for k in keys}
    with torch.no_grad():
        for _ in range(a.steps):
            ref_ball_z = env.reference().ball_pos[:, 2]
            obs, reward, done, info = env.step(policy.act(obs))
            for key, value in (
                ("ball_z", info.state.ball_pos[:, 2]),
                ("ref_ball_z", ref_ball_z),
                ("alive", alive.clone()),
                ("ball", info.ball_offset),
                ("drift", info.node_drift),
                ("height", info.state.root_pos[:, 2]),
                ("reward", reward),
                ("frame", env.frame.clone()),
                ("fell", info.fell | info.diverged),
            ):
                rec[key].append(value.clone())
            alive &= ~done
    t = {k: torch.stack(v) for k, v in rec.items()}
    ball_lost = first(t["ball"] > BALL_LOST, t["alive"])
    drifted = first(t["drift"] > DRIFT, t["alive"])
    fell = first(t["fell"], t["alive"])
    apex, ref_apex = mean_apex(t["ball_z"], t["alive"]), mean_apex(t["ref_ball_z"], t["alive"])
    limit = cfg.env.termination_distance
    episodes = []
    for e in range(n):
        start = int(frames[e])
        row = dict(clip=lib.names[int(clips[e])], start=start, ball_lost=ball_lost[e], drift_over=drifted[e])
        episodes.append(dict(row, fell=fell[e], ball_apex=apex[e], reference_apex=ref_apex[e]))
        tops = " / ".join("-" if h is None else f"{h:.2f}" for h in (apex[e], ref_apex[e]))
        print(
            f"{e:3d} start {start:4d}  ball lost {ball_lost[e]}  drift > {DRIFT} m {drifted[e]}  fell {fell[e]}  "
            f"bounce tops {tops} m (reference)"
        )
        if a.every:
            steps = [s for s in range(0, a.steps, a.every) if t["alive"][s, e]]
            print(
                "     "
                + " | ".join(
                    f"{s + 1}: f{int(t['frame'][s, e])} ball {t['ball'][s, e]:.2f} drift {t['drift'][s, e]:.2f} "
                    f"h {t['height'][s, e]:.2f} r {t['reward'][s, e]:.2f}"
                    for s in steps
                )
            )
    falls = [r for r in episodes if r["fell"] is not None]
    order = sum(1 for r in falls if r["ball_lost"] is not None and r["ball_lost"] < r["fell"])
    print(
        f"{len(falls)}/{n} fall; {order} of them lost the ball first; the policy trained with drift limit "
        f"{limit} m, ball limit {cfg.env.ball_termination_distance} m"
    )
    if a.json:
        a.json.write_text(json.dumps(dict(checkpoint=a.checkpoint, steps=a.steps, episodes=episodes), indent=1) + "\n")


if __name__ == "__main__":
    main()
