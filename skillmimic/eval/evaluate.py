"""``skillmimic eval``: batched deterministic episodes of a trained policy, scored per clip and skill.

Modes (SkillMimic-V2's metrics; ``--mode all`` runs the three):

- **sr**: episode k of a clip (of ``episodes``) starts at frame k/episodes of the clip's first
  half, from the reference state, with the clip's skill label; past the clip's end the
  reference holds its last frame.
- **ensr**: the same starts perturbed by the training noise model (``envs/transition_field.py``,
  ε from the policy's ``stf`` config), the reference re-timed to the perturbed state.
- **tsr**: for every pair of skills (A, B), episodes start in A's reference states and follow the
  trajectory graph's edge from that frame to B: the reference becomes B's clip, re-anchored onto
  the character, the policy is conditioned on B and the episode is judged by B's criterion.
  Starts without an edge to B are not run (their count is reported).

``trials`` sets the episodes per cell (per skill for sr / ensr, per skill pair for tsr), start
frames drawn (seeded) from the valid frames of the cell's clips; otherwise ``episodes`` per clip.
A fall (pelvis below the termination height) ends an episode and fails it. Reported: success
rate under the skill's criterion (``criteria.py``); normalised accumulated reward (mean imitation
reward over the steps that have a reference frame), always scored with the default (upstream)
reward and hand-ball touches counted without the training's ``scene.ball_touch_distance``, so NR
compares across runs whatever reward a policy trained with; mean episode length; fall rate; and
the steps the ball stayed with the character: from the start until the ball, seen from the root,
is first more than ``BALL_LOST`` from where the reference has it (or the episode or its
reference frames end). A skill with the ball fails there long before its criterion can say why.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import torch

from skillmimic import rotations as rot
from skillmimic.config import RewardConfig, TrainConfig
from skillmimic.envs.factory import policy_env, policy_motion
from skillmimic.envs.imitation import ImitationEnv
from skillmimic.envs.sampling import FixedStartSampler, Starts, UniformStartSampler
from skillmimic.envs.transition_field import Retimer, noisy_starts, switch_starts
from skillmimic.errors import SkillMimicError
from skillmimic.eval.criteria import Trajectory, criterion_for, success
from skillmimic.motion.library import MotionLibrary
from skillmimic.policy import SkillPolicy, load_policy
from skillmimic.sim.state import SimState
from skillmimic.skills import skill_name

METRICS = (
    "success_rate",
    "upstream_success_rate",  # the same episodes judged by upstream SkillMimic's rules (criteria.UPSTREAM)
    "normalized_reward",
    "mean_episode_length",
    "fall_rate",
    "ball_kept_steps",
)
BALL_LOST = 0.5  # m: the ball is no longer "with the character" this far from the reference's
MODES = ("sr", "ensr", "tsr")
EPISODES = 4  # per clip, by default
STEPS = 600  # control steps (10 s) per episode, by default


def evaluate(
    checkpoint: str,
    motion: str,
    episodes: int = EPISODES,
    steps: int = STEPS,
    num_envs: int = 64,
    device: str = "auto",
    backend: str = "auto",
    mode: str = "sr",
    trials: int | None = None,
    seed: int = 0,
) -> dict:
    modes = MODES if mode == "all" else (mode,)
    if any(m not in MODES for m in modes):
        raise SkillMimicError(f"eval --mode {mode!r}: expected one of {', '.join(MODES)} or all")
    if trials is not None and trials < 1:
        raise SkillMimicError(f"eval --trials {trials}: expected at least 1 episode per cell")
    policy = load_policy(checkpoint, device, backend)
    cfg = policy.config
    lib = policy_motion(policy, motion)
    runner = _Runner(lib, policy, steps, num_envs)
    gen = torch.Generator().manual_seed(seed)
    rep = dict(
        checkpoint=str(checkpoint),
        epoch=policy.epoch,
        motion=str(motion),
        mode=mode,
        episodes_per_clip=episodes,
        trials=trials,
        seed=seed,
        steps=steps,
        num_envs=num_envs,
        backend=cfg.sim.backend,
        device=cfg.sim.device,
    )
    clips, frames = reference_starts(lib, episodes, trials, gen)
    if "sr" in modes:
        out = runner(Starts(clips, frames))
        rep.update(_report(lib, clips, out))
    if "ensr" in modes:
        state, retimed, _ = noisy_starts(lib, Retimer(lib), clips, frames, cfg.stf, gen)
        out = runner(Starts(clips, retimed, state))
        rep["ensr"] = dict(noise=cfg.stf.noise, noise_getup=cfg.stf.noise_getup, **_report(lib, clips, out))
    if "tsr" in modes:
        rep["tsr"] = _transitions(lib, runner, cfg, episodes, trials, gen)
    return rep


class _Runner:
    """Runs episodes from any ``Starts`` in batches of ``num_envs`` worlds."""

    def __init__(self, lib, policy: SkillPolicy, steps: int, num_envs: int):
        self.lib, self.policy, self.steps = lib, policy, steps
        self.batch = num_envs
        self.env = eval_env(policy, lib, num_envs, steps)
        self.targets = _shot_targets(lib)

    def __call__(self, starts: Starts) -> dict:
        n = starts.clips.numel()
        if n == 0:
            return {}
        results = []
        for lo in range(0, n, self.batch):
            idx = torch.arange(lo, lo + self.batch, device=self.lib.device).clamp_max(n - 1)  # pad the last batch
            self.env.sampler = FixedStartSampler(FixedStartSampler(starts).sample(idx))
            results.append(_run(self.env, self.policy, self.steps, self.targets))
        return {key: torch.cat([r[key] for r in results])[:n] for key in results[0]}


def eval_env(policy: SkillPolicy, lib: MotionLibrary, num_envs: int, steps: int) -> ImitationEnv:
    """The env eval's episodes run in. NR is the default reward, and counts a hand-ball touch the
    plain way (contact force or depth), whatever the policy trained with: reward weights and a
    touch distance change no physics, only what the reward counts, and NR must compare across
    runs. Episodes end by a fall only: success is the skill criterion's call, not the drift rules."""
    cfg = policy.config
    scene = replace(cfg.scene, ball_touch_distance=0.0)
    return policy_env(policy, lib, num_envs, cfg.env.rollout(steps), scene=scene, reward=RewardConfig())


def reference_starts(lib: MotionLibrary, episodes: int, trials: int | None, gen: torch.Generator):
    """(clips, frames) of the reference starts: ``episodes`` per clip spread over the first half
    of each clip, or ``trials`` per skill drawn from its clips' valid start frames."""
    if trials is None:
        return _spread(lib, torch.ones(lib.num_clips, dtype=torch.bool, device=lib.device), episodes)
    sampler = UniformStartSampler(lib, gen)
    clips, frames = [], []
    for sid in sorted(set(lib.skill_ids.tolist())):
        c, f = _draw(sampler, lib.skill_ids == sid, trials)
        clips.append(c)
        frames.append(f)
    return torch.cat(clips), torch.cat(frames)


def _spread(lib: MotionLibrary, clip_mask: torch.Tensor, episodes: int):
    """``episodes`` starts per clip in ``clip_mask``: episode k at frame k/episodes of the clip's
    first half (moved past a missing frame)."""
    clips = clip_mask.nonzero().flatten().repeat_interleave(episodes)
    k = torch.arange(episodes, device=lib.device).repeat(len(clips) // episodes)
    return clips, _valid_frame(lib, clips, k * (lib.lengths[clips] - 2).clamp_min(0) // (2 * episodes))


def _draw(sampler: UniformStartSampler, clip_mask: torch.Tensor, n: int):
    """``n`` uniform valid starts over the clips in ``clip_mask`` (one clip after another)."""
    members = clip_mask.nonzero().flatten().cpu()
    members = members[sampler.count[members] > 0]
    clips = members[torch.arange(n) % len(members)]
    k = (torch.rand(n, generator=sampler.gen) * sampler.count[clips]).long()
    frames = sampler.frame_of(clips, k)
    return clips.to(sampler.lib.device), frames.to(sampler.lib.device)


def _valid_frame(lib: MotionLibrary, clips: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """The first valid frame at or after each frame (a missing frame never starts an episode)."""
    valid, starts, lengths = lib.valid.cpu(), lib.starts.cpu(), lib.lengths.cpu()
    out = frames.cpu().clone()
    for i, (c, f) in enumerate(zip(clips.tolist(), out.tolist(), strict=True)):
        later = valid[starts[c] + f : starts[c] + lengths[c] - 1].nonzero()
        if not bool(valid[starts[c] + f]) and len(later):
            out[i] = f + int(later[0])
    return out.to(frames.device)


def _transitions(lib, runner: _Runner, cfg: TrainConfig, episodes: int, trials: int | None, gen) -> dict:
    """TSR: success per (source skill, target skill) over graph switches (module docstring)."""
    from skillmimic.graph import load_or_build

    skills = sorted(set(lib.skill_ids.tolist()))
    if len(skills) < 2:
        raise SkillMimicError("eval --mode tsr needs clips of at least two skills")
    graph = load_or_build(lib, Path(cfg.runs_dir) / "graphs")
    sampler = UniformStartSampler(lib, gen)
    matrix: dict[str, dict[str, dict]] = {}
    runs: list[dict] = []
    for a in skills:
        for b in skills:
            if a == b:
                continue
            if trials is None:
                clips, frames = _spread(lib, lib.skill_ids == a, episodes)
            else:
                clips, frames = _draw(sampler, lib.skill_ids == a, trials)
            target = torch.full_like(clips, b)
            pick = torch.zeros(len(clips), device=lib.device)
            b_clip, b_frame, _, yaw, shift, ok = switch_starts(lib, graph, clips, frames, pick, target)
            state = SimState.from_motion(lib.get(clips[ok], frames[ok]))  # the simulator starts in A
            out = runner(Starts(b_clip[ok], b_frame[ok], state, yaw[ok], shift[ok]))
            cell = dict(starts=len(clips), no_edge=int((~ok).sum()), episodes=int(ok.sum()))
            if out:
                cell.update(_summary(torch.ones_like(out["success"]), out))
                runs.append(out)
            matrix.setdefault(f"{a:03d}", {})[f"{b:03d}"] = cell
    allout = {k: torch.cat([r[k] for r in runs]) for k in runs[0]} if runs else {}
    overall = _summary(torch.ones_like(allout["success"]), allout) if allout else dict(episodes=0)
    return dict(matrix=matrix, overall=overall)


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
    holding = torch.ones_like(alive)
    kept = torch.zeros_like(length)
    track: dict[str, list[torch.Tensor]] = {
        k: [] for k in ("root_pos", "root_vel", "ball_pos", "ball_vel", "hand_touch", "valid")
    }
    for t in range(1, steps + 1):
        obs, reward, done, info = env.step(policy.act(obs))
        s = info.state
        for key, value in (
            ("root_pos", s.root_pos),
            ("root_vel", s.root_vel),
            ("ball_pos", s.ball_pos),
            ("ball_vel", s.ball_vel),
            ("hand_touch", info.hand_touch),
            ("valid", alive.clone()),
        ):
            track[key].append(value.clone())
        reward_sum += torch.where(alive & (t <= remaining), reward, torch.zeros_like(reward))
        holding &= alive & (t <= remaining) & (info.ball_offset <= BALL_LOST)
        kept += holding.long()
        length += alive.long()
        fell |= alive & (info.fell | info.diverged)
        alive &= ~done
    # the shot target moves with the reference when a switch re-anchored it
    target = rot.quat_rotate(rot.yaw_quat(env.anchor_yaw), targets[clip]) + env.anchor_shift
    traj = Trajectory(**{k: torch.stack(v) for k, v in track.items()}, fell=fell, target=target)
    ok = success(traj, env.lib.skill_ids[clip])
    ok_upstream = success(traj, env.lib.skill_ids[clip], rules="upstream")
    nr = reward_sum / torch.minimum(length, remaining.clamp_min(1)).clamp_min(1)
    return dict(
        success=ok,
        upstream_success=ok_upstream,
        normalized_reward=nr,
        length=length.float(),
        fell=fell,
        ball_kept=kept.float(),
    )


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
        upstream_success_rate=round(out["upstream_success"][mask].float().mean().item(), 4),
        normalized_reward=round(out["normalized_reward"][mask].mean().item(), 4),
        mean_episode_length=round(out["length"][mask].mean().item(), 2),
        fall_rate=round(out["fell"][mask].float().mean().item(), 4),
        ball_kept_steps=round(out["ball_kept"][mask].mean().item(), 2),
    )


def _report(lib, clips, out) -> dict:
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
    return dict(clips=per_clip, skills=per_skill, overall=_summary(torch.ones_like(clips, dtype=torch.bool), out))


def _skill_table(title: str, part: dict) -> list[str]:
    head = (
        f"{'skill':<28} {'criterion':<9} {'clips':>5} {'eps':>4} {'success':>8} {'upstrm':>7} {'NR':>6} {'ep_len':>7} "
        f"{'falls':>6} {'ball':>6}"
    )
    lines = [title, head, "-" * len(head)]
    for sid, r in part["skills"].items():
        lines.append(
            f"{sid} {r['skill']:<24} {r['criterion']:<9} {r['clips']:>5} {r['episodes']:>4} "
            f"{100 * r['success_rate']:>7.1f}% {100 * r['upstream_success_rate']:>6.1f}% "
            f"{r['normalized_reward']:>6.3f} {r['mean_episode_length']:>7.1f} "
            f"{100 * r['fall_rate']:>5.1f}% {r['ball_kept_steps']:>6.1f}"
        )
    o = part["overall"]
    lines.append(
        f"{'all':<28} {'':<9} {len(part['clips']):>5} {o['episodes']:>4} {100 * o['success_rate']:>7.1f}% "
        f"{100 * o['upstream_success_rate']:>6.1f}% "
        f"{o['normalized_reward']:>6.3f} {o['mean_episode_length']:>7.1f} {100 * o['fall_rate']:>5.1f}% "
        f"{o['ball_kept_steps']:>6.1f}"
    )
    return lines


def format_table(rep: dict) -> str:
    lines = [f"eval {rep['checkpoint']} (epoch {rep['epoch']}) on {rep['motion']}: {rep['steps']} steps per episode"]
    summary = []
    if "skills" in rep:
        lines += _skill_table("SR: starts on the reference", rep)
        summary.append(f"SR {100 * rep['overall']['success_rate']:.1f}%")
    if "ensr" in rep:
        e = rep["ensr"]
        lines += ["", *_skill_table(f"eNSR: noisy starts (epsilon {e['noise']:g}), reference re-timed", e)]
        summary.append(f"eNSR {100 * e['overall']['success_rate']:.1f}%")
    if "tsr" in rep:
        m = rep["tsr"]["matrix"]
        names = list(m)
        lines += ["", "TSR: success from source skill (rows) into target skill (columns), % (episodes)"]
        lines.append(f"{'':>6}" + "".join(f"{b:>14}" for b in names))
        for a in names:
            cells = []
            for b in names:
                c = m[a].get(b)
                text = (
                    "-"
                    if c is None
                    else ("no edge" if not c["episodes"] else f"{100 * c['success_rate']:.1f} ({c['episodes']})")
                )
                cells.append(f"{text:>14}")
            lines.append(f"{a:>6}" + "".join(cells))
        o = rep["tsr"]["overall"]
        if o.get("episodes"):
            summary.append(f"TSR {100 * o['success_rate']:.1f}%")
    if "skills" in rep:
        summary.append(f"NR {rep['overall']['normalized_reward']:.3f}")
    lines.append("summary: " + ", ".join(summary))
    return "\n".join(lines)


def write_json(rep: dict, path: str | Path) -> None:
    Path(path).write_text(json.dumps(rep, indent=1) + "\n")
