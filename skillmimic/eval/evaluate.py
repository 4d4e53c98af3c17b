"""``skillmimic eval``: batched deterministic episodes of a trained policy, scored per clip and skill.

Episode k of a clip (of ``episodes``) starts at frame k/episodes of the clip's first half, from
the reference state, and runs ``steps`` control steps with the clip's skill label; past the
clip's end the reference holds its last frame. A fall (pelvis below the termination height)
ends an episode and fails it. Reported per clip and per skill: success rate under the skill's
criterion (``criteria.py``), normalised accumulated reward (mean imitation reward over the
steps that have a reference frame), mean episode length and fall rate.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import torch

from skillmimic.envs.imitation import ImitationEnv
from skillmimic.envs.sampling import FixedStartSampler
from skillmimic.eval.criteria import Trajectory, criterion_for, success
from skillmimic.learning.policy import load_policy
from skillmimic.motion.library import MotionLibrary
from skillmimic.sim.factory import make_simulator
from skillmimic.skills import skill_name

METRICS = ("success_rate", "normalized_reward", "mean_episode_length", "fall_rate")


def evaluate(
    checkpoint: str,
    motion: str,
    episodes: int = 4,
    steps: int = 300,
    num_envs: int = 64,
    device: str = "auto",
    backend: str = "auto",
) -> dict:
    policy, cfg = load_policy(checkpoint, device, backend)
    dev = cfg.sim.device
    lib = MotionLibrary.load(motion, dev, cfg.skill, cfg.retarget_ball)
    policy.check_motion(lib)
    clips = torch.arange(lib.num_clips, device=dev).repeat_interleave(episodes)
    k = torch.arange(episodes, device=dev).repeat(lib.num_clips)
    starts = k * (lib.lengths[clips] - 2).clamp_min(0) // (2 * episodes)
    # Episodes end by a fall only: success is the skill criterion's call, not training's drift rule.
    env_cfg = replace(cfg.env, episode_length=steps, reference_ends_episode=False, termination_distance=0.0)
    batch = min(num_envs, len(clips))
    sim = make_simulator(cfg.sim.backend, batch, dev, cfg.scene, cfg.sim_config())
    env = ImitationEnv(lib, sim, env_cfg, cfg.reward)
    targets = _shot_targets(lib)
    results = []
    for lo in range(0, len(clips), batch):
        idx = torch.arange(lo, lo + batch, device=dev).clamp_max(len(clips) - 1)  # pad the last batch
        env.sampler = FixedStartSampler(clips[idx], starts[idx])
        results.append(_run(env, policy, steps, targets))
    out = {key: torch.cat([r[key] for r in results])[: len(clips)] for key in results[0]}
    return _report(lib, clips, out, checkpoint, motion, episodes, steps, cfg, policy)


@torch.no_grad()
def _run(env: ImitationEnv, policy, steps: int, targets: torch.Tensor) -> dict:
    n = env.num_envs
    obs = env.reset()
    start, clip = env.start.clone(), env.clip.clone()
    remaining = env.lib.lengths[clip] - 1 - start  # steps that have a reference frame
    alive = torch.ones(n, dtype=torch.bool, device=env.device)
    fell = torch.zeros_like(alive)
    length = torch.zeros(n, dtype=torch.long, device=env.device)
    reward_sum = torch.zeros(n, device=env.device)
    track = {k: [] for k in ("root_pos", "root_vel", "ball_pos", "ball_vel", "valid")}
    for t in range(1, steps + 1):
        obs, reward, done, info = env.step(policy.act(obs))
        s = info.state
        for key, value in (
            ("root_pos", s.root_pos),
            ("root_vel", s.root_vel),
            ("ball_pos", s.ball_pos),
            ("ball_vel", s.ball_vel),
            ("valid", alive.clone()),
        ):
            track[key].append(value.clone())
        reward_sum += torch.where(alive & (t <= remaining), reward, torch.zeros_like(reward))
        length += alive.long()
        fell |= alive & (info.fell | info.diverged)
        alive &= ~done
    traj = Trajectory(**{k: torch.stack(v) for k, v in track.items()}, fell=fell, target=targets[clip])
    ok = success(traj, env.lib.skill_ids[clip])
    nr = reward_sum / torch.minimum(length, remaining.clamp_min(1)).clamp_min(1)
    return dict(success=ok, normalized_reward=nr, length=length.float(), fell=fell)


def _shot_targets(lib: MotionLibrary) -> torch.Tensor:
    """[clips, 3] reference ball position at each clip's highest ball frame."""
    ball = lib.frames.ball_pos
    spans = zip(lib.starts.tolist(), lib.lengths.tolist(), strict=True)
    rows = [int(s) + int(ball[s : s + n, 2].argmax()) for s, n in spans]
    return ball[rows]


def _summary(mask: torch.Tensor, out: dict) -> dict:
    return dict(
        episodes=int(mask.sum()),
        success_rate=round(out["success"][mask].float().mean().item(), 4),
        normalized_reward=round(out["normalized_reward"][mask].mean().item(), 4),
        mean_episode_length=round(out["length"][mask].mean().item(), 2),
        fall_rate=round(out["fell"][mask].float().mean().item(), 4),
    )


def _report(lib, clips, out, checkpoint, motion, episodes, steps, cfg, policy) -> dict:
    per_clip = []
    for c in range(lib.num_clips):
        sid = int(lib.skill_ids[c])
        per_clip.append(
            dict(
                clip=lib.names[c],
                skill_id=sid,
                skill=skill_name(sid),
                criterion=criterion_for(sid),
                **_summary(clips == c, out),
            )
        )
    per_skill = {}
    for sid in sorted(set(lib.skill_ids.tolist())):
        mask = lib.skill_ids[clips] == sid
        per_skill[f"{sid:03d}"] = dict(
            skill=skill_name(sid),
            criterion=criterion_for(sid),
            clips=int((lib.skill_ids == sid).sum()),
            **_summary(mask, out),
        )
    return dict(
        checkpoint=str(checkpoint),
        epoch=policy.epoch,
        motion=str(motion),
        episodes_per_clip=episodes,
        steps=steps,
        backend=cfg.sim.backend,
        device=cfg.sim.device,
        clips=per_clip,
        skills=per_skill,
        overall=_summary(torch.ones_like(clips, dtype=torch.bool), out),
    )


def format_table(rep: dict) -> str:
    head = f"{'skill':<28} {'criterion':<9} {'clips':>5} {'eps':>4} {'success':>8} {'NR':>6} {'ep_len':>7} {'falls':>6}"
    lines = [
        f"eval {rep['checkpoint']} (epoch {rep['epoch']}) on {rep['motion']}: {rep['steps']} steps per episode",
        head,
        "-" * len(head),
    ]
    for sid, r in rep["skills"].items():
        lines.append(
            f"{sid} {r['skill']:<24} {r['criterion']:<9} {r['clips']:>5} {r['episodes']:>4} "
            f"{100 * r['success_rate']:>7.1f}% {r['normalized_reward']:>6.3f} {r['mean_episode_length']:>7.1f} "
            f"{100 * r['fall_rate']:>5.1f}%"
        )
    o = rep["overall"]
    lines.append(
        f"{'all':<28} {'':<9} {len(rep['clips']):>5} {o['episodes']:>4} {100 * o['success_rate']:>7.1f}% "
        f"{o['normalized_reward']:>6.3f} {o['mean_episode_length']:>7.1f} {100 * o['fall_rate']:>5.1f}%"
    )
    return "\n".join(lines)


def write_json(rep: dict, path: str | Path) -> None:
    Path(path).write_text(json.dumps(rep, indent=1) + "\n")
