"""State transition field (SkillMimic-V2): episodes that start off the reference and must find
their way back onto it, or into another skill.

A ``TransitionFieldSampler`` wraps a reference-start sampler. Per reset, an env gets

- a **noisy start** with probability ``stf.noisy_start_prob``: its reference start state is
  perturbed (``perturb``, noise model below) and the reference is **re-timed** to the frame of the
  same clip most similar to the perturbed state itself (``retime``);
- else a **skill switch** with probability ``stf.switch_prob``: an edge of the trajectory graph
  is drawn from its start frame (clip A, frame t) to a frame t_B of another skill's clip B; the
  simulator starts in A[t], the reference becomes B[t_B:], rigidly re-anchored so that B[t_B]'s
  root has A[t]'s xy and heading (heights kept), and the skill label becomes B's;
- else the plain reference start.

Both kinds get ``buffer_steps(similarity)`` steps whose reward is the mean reward of the envs on
the same clip: the policy is not punished for the gap it was started in, only for not closing it.

Noise model, with ε = ``stf.noise`` (0.1), or for getup clips (skill 0) ε_g = ``stf.noise_getup``
(1.0) on the root and the joints, as upstream:

| part | perturbation |
|---|---|
| root height | + U[0, 1) · ε (getup ε_g) |
| root orientation | rotated by roll, pitch, yaw each U(-ε, ε) (getup ε_g); stays a unit quaternion |
| joint angles | + N(0, (2ε)²) (getup N(0, ε_g²)) |
| root linear and angular velocity, joint velocities | + N(0, (2ε)²) |
| ball height | + U[0, 1) · ε |
| ball orientation | rotated by roll, pitch, yaw each U(-ε, ε) |
| ball linear and angular velocity | + N(0, (2ε)²) |

Upstream draws the Gaussian terms as ε·(2n - 1), n ~ N(0, 1): the same spread (std 2ε) with a
bias of -ε that we drop. Upstream re-times from stale simulator buffers and squares the reference
positions; ``retime`` uses the perturbed state's own forward kinematics.
"""

from __future__ import annotations

import torch

from skillmimic import rotations as rot
from skillmimic.config import TransitionFieldConfig
from skillmimic.envs.sampling import START_KINDS, Starts
from skillmimic.graph.similarity import frame_features, retime_similarity, state_features
from skillmimic.kinematics import forward_kinematics
from skillmimic.motion.library import MotionLibrary
from skillmimic.sim.state import SimState

GETUP = 0
NOISY, SWITCH = START_KINDS.index("noisy"), START_KINDS.index("switch")


def buffer_steps(similarity: torch.Tensor, most: int = 10) -> torch.Tensor:
    """Steps of clip-mean reward after a start of this similarity to its reference: 0 above 0.5,
    else -floor(log10 sim), at most ``most`` (0.02 -> 2, 1e-5 -> 5, 0 -> 10)."""
    steps = -torch.floor(torch.log10(similarity.clamp_min(1e-30)))
    return torch.where(similarity > 0.5, 0.0, steps.clamp(0, most)).long()


def _small_rotation(n: int, scale: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """[n, 4] rotations from roll, pitch, yaw each uniform in (-scale, scale)."""
    a = (2 * torch.rand(n, 3, generator=gen) - 1) * scale.view(-1, 1)
    q = rot.axis_angle_quat(0, a[:, 0])
    q = rot.quat_mul(rot.axis_angle_quat(1, a[:, 1]), q)
    return rot.quat_mul(rot.axis_angle_quat(2, a[:, 2]), q)


def perturb(state: SimState, skills: torch.Tensor, cfg: TransitionFieldConfig, gen: torch.Generator) -> SimState:
    """The noise model of the module docstring applied to ``state`` (draws on the CPU ``gen``)."""
    n, dev = state.root_pos.shape[0], state.root_pos.device
    eps = torch.full((n,), cfg.noise)
    getup = (skills == GETUP).cpu()
    w = torch.where(getup, cfg.noise_getup, cfg.noise)  # root height and orientation
    dof_std = torch.where(getup, cfg.noise_getup, 2 * cfg.noise).view(-1, 1)
    gauss = lambda k, std: (torch.randn(n, k, generator=gen) * std).to(dev)  # noqa: E731
    uniform = lambda scale: (torch.rand(n, generator=gen) * scale).to(dev)  # noqa: E731
    s = 2 * cfg.noise
    root_pos = state.root_pos.clone()
    root_pos[:, 2] += uniform(w)
    ball_pos = state.ball_pos.clone()
    ball_pos[:, 2] += uniform(eps)
    return SimState(
        root_pos=root_pos,
        root_rot=rot.normalize(rot.quat_mul(_small_rotation(n, w, gen).to(dev), state.root_rot)),
        root_vel=state.root_vel + gauss(3, s),
        root_ang_vel=state.root_ang_vel + gauss(3, s),
        dof_pos=state.dof_pos + gauss(state.dof_pos.shape[1], dof_std),
        dof_vel=state.dof_vel + gauss(state.dof_vel.shape[1], s),
        ball_pos=ball_pos,
        ball_rot=rot.normalize(rot.quat_mul(_small_rotation(n, eps, gen).to(dev), state.ball_rot)),
        ball_vel=state.ball_vel + gauss(3, s),
        ball_ang_vel=state.ball_ang_vel + gauss(3, s),
    )


class Retimer:
    """Finds, for states near clip c, the frame of clip c most similar to each (frames 0, 1 and
    L-1 and missing frames excluded, as graph targets are). Upstream's re-timing weights (lineage
    A, ``graph/similarity.py``), compared in the world frame; the key-body velocity term is left
    out: a perturbed state has no body velocities before a physics step."""

    def __init__(self, lib: MotionLibrary, chunk: int = 64):
        self.lib, self.chunk = lib, chunk
        self.feats = frame_features(lib)
        frame = torch.arange(lib.num_frames, device=lib.device) - lib.starts[lib.frame_clip]
        length = lib.lengths[lib.frame_clip]
        self.candidate = lib.valid & (frame >= 2) & (frame < length - 1)

    def __call__(self, clips: torch.Tensor, state: SimState) -> tuple[torch.Tensor, torch.Tensor]:
        """(frames [n], similarity [n]) of the best frame of each state's own clip."""
        lib = self.lib
        body_pos, _ = forward_kinematics(state.root_pos, state.root_rot, state.dof_pos)
        src = state_features(state.root_pos, state.root_rot, state.dof_pos, body_pos, state.ball_pos, state.ball_vel)
        frames = torch.zeros_like(clips)
        best = torch.zeros(clips.shape, device=lib.device)
        for c in clips.unique().tolist():
            rows = slice(int(lib.starts[c]), int(lib.starts[c] + lib.lengths[c]))
            dst = {k: v[rows] for k, v in self.feats.items()}
            members = (clips == c).nonzero().flatten()
            for i in members.split(self.chunk):  # memory: chunk x clip length x 52 joints
                sim = retime_similarity({k: v[i] for k, v in src.items()}, dst, lib.skill_ids[clips[i]])
                best[i], frames[i] = torch.where(self.candidate[rows], sim, -1.0).max(dim=1)
        return frames, best.clamp_min(0)


def switch_starts(
    lib: MotionLibrary, graph, clips: torch.Tensor, frames: torch.Tensor, pick: torch.Tensor, dst_skill=None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Graph switches from (clip A, frame t): the chosen edge's (clip B, frame t_B, similarity),
    the re-anchoring (yaw [n], shift [n, 3]) that puts B[t_B]'s root on A[t]'s, and whether an
    edge existed. ``pick`` in [0, 1) chooses uniformly among the existing edges of each start, or,
    with ``dst_skill`` [n], the edge to that skill."""
    dst_skills, dst_clip, dst_frame, sim = graph.edges(lib.flat_index(clips, frames))  # each [n, K]
    exists = dst_clip >= 0
    if dst_skill is not None:
        exists = exists & (dst_skills == dst_skill.unsqueeze(1))
    count = exists.sum(dim=1)
    k = (pick * count).long().clamp_max((count - 1).clamp_min(0))
    column = ((torch.cumsum(exists.long(), dim=1) - 1) == k.unsqueeze(1)) & exists
    col = column.float().argmax(dim=1)
    ok = count > 0
    take = lambda t: t.gather(1, col.unsqueeze(1)).squeeze(1)  # noqa: E731
    b_clip, b_frame, b_sim = take(dst_clip).clamp_min(0), take(dst_frame).clamp_min(0), take(sim)
    a, b = lib.get(clips, frames), lib.get(b_clip, b_frame)
    yaw = rot.wrap_angle(rot.heading_angle(a.root_rot) - rot.heading_angle(b.root_rot))
    shift = a.root_pos - rot.quat_rotate(rot.yaw_quat(yaw), b.root_pos)
    shift[:, 2] = 0.0
    return b_clip, b_frame, b_sim, yaw, shift, ok


def noisy_starts(
    lib: MotionLibrary, retimer: Retimer, clips: torch.Tensor, frames: torch.Tensor, cfg, gen: torch.Generator
) -> tuple[SimState, torch.Tensor, torch.Tensor]:
    """Noisy starts near (clip, frame): the perturbed state, its re-timed reference frame and the
    similarity of the two."""
    state = perturb(SimState.from_motion(lib.get(clips, frames)), lib.skill_ids[clips], cfg, gen)
    retimed, sim = retimer(clips, state)
    return state, retimed, sim


class TransitionFieldSampler:
    """Wraps a reference-start sampler with noisy starts and graph switches (module docstring)."""

    def __init__(self, base, lib: MotionLibrary, cfg: TransitionFieldConfig, generator: torch.Generator, graph=None):
        self.base, self.lib, self.cfg, self.gen, self.graph = base, lib, cfg, generator, graph
        self.retimer = Retimer(lib)

    def sample(self, env_ids: torch.Tensor) -> Starts:
        s = self.base.sample(env_ids)
        lib, cfg, n, dev = self.lib, self.cfg, env_ids.numel(), self.lib.device
        u = torch.rand(n, generator=self.gen)
        noisy = (u < cfg.noisy_start_prob).to(dev)
        switch = ((u >= cfg.noisy_start_prob) & (u < cfg.noisy_start_prob + cfg.switch_prob)).to(dev)
        pick = torch.rand(n, generator=self.gen).to(dev)
        if self.graph is None:
            switch = torch.zeros_like(switch)
        clips, frames = s.clips.clone(), s.frames.clone()
        state = SimState.from_motion(lib.get(s.clips, s.frames))
        yaw = torch.zeros(n, device=dev)
        shift = torch.zeros(n, 3, device=dev)
        buffer = torch.zeros(n, dtype=torch.long, device=dev)
        kind = torch.zeros(n, dtype=torch.long, device=dev)
        if bool(noisy.any()):
            i = noisy.nonzero().flatten()
            noisy_state, t, sim = noisy_starts(lib, self.retimer, clips[i], frames[i], cfg, self.gen)
            for f in state.__dataclass_fields__:
                getattr(state, f)[i] = getattr(noisy_state, f)
            kind[i] = NOISY
            if cfg.retime:  # else: noise only (the eps-NSI baseline), the reference stays at the start
                frames[i] = t
                buffer[i] = buffer_steps(sim) if cfg.buffer else 0
        if bool(switch.any()):
            i = switch.nonzero().flatten()
            b_clip, b_frame, sim, b_yaw, b_shift, ok = switch_starts(lib, self.graph, clips[i], frames[i], pick[i])
            i, b_clip, b_frame, sim = i[ok], b_clip[ok], b_frame[ok], sim[ok]
            clips[i], frames[i], yaw[i], shift[i], kind[i] = b_clip, b_frame, b_yaw[ok], b_shift[ok], SWITCH
            buffer[i] = buffer_steps(sim) if cfg.buffer else 0
        return Starts(clips, frames, state, yaw, shift, buffer, kind)

    # adaptive sampling underneath keeps learning from the episodes and steps
    def record_episodes(self, clips: torch.Tensor, frames: torch.Tensor, mean_reward: torch.Tensor) -> None:
        if hasattr(self.base, "record_episodes"):
            self.base.record_episodes(clips, frames, mean_reward)

    def on_step(self) -> None:
        if hasattr(self.base, "on_step"):
            self.base.on_step()

    def log(self, writer, frame: int, epoch: int) -> None:
        if hasattr(self.base, "log"):
            self.base.log(writer, frame, epoch)

    def state_dict(self) -> dict:
        return {"rng": self.gen.get_state(), "base": self.base.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.gen.set_state(state["rng"])
        self.base.load_state_dict(state.get("base", {}))
