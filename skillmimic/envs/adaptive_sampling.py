"""Adaptive trajectory sampling (SkillMimic-V2's ATS): start more episodes where the policy is bad.

A record R holds, per start (clip, frame), the mean per-step reward of episodes that started
there, blended as upstream: R <- (R + m) / 2 with m the finished episode's mean reward (R starts
at 0, so an unvisited start has the highest weight). Every ``period`` env steps the sampling
weights are recomputed from R:

- clips: with R_c the mean of clip c's record, a class weight exp(-5 * mean of R_c over the
  class's clips) (normalised over clips) times an intra-class weight exp(-5 * R_c) (normalised
  within the class), renormalised; p(c) = (1 - alpha) * balanced(c) + alpha * that, where
  ``balanced`` is the uniform sampler's class-balanced distribution (upstream mixes with a
  uniform 1/N over clips instead, which is not class-balanced at alpha = 0);
- frames of clip c: p(t | c) = (1 - alpha) / L_c + alpha * softmax_t(-10 * R[c, t]) over its L_c
  valid start frames (missing frames and the last frame never start an episode).

Upstream's record covers start frames 2..L-2 (its reference velocities are not ready on frames
0 and 1); ours are valid from frame 0, so every valid start has a record. Upstream only applies
the weights with a second hidden flag; here ``ats.enabled`` is the one switch.
"""

from __future__ import annotations

import math

import torch

from skillmimic.config import AdaptiveSamplingConfig
from skillmimic.envs.sampling import Starts, UniformStartSampler
from skillmimic.motion.library import MotionLibrary


class AdaptiveStartSampler(UniformStartSampler):
    def __init__(self, lib: MotionLibrary, cfg: AdaptiveSamplingConfig, generator: torch.Generator):
        super().__init__(lib, generator)
        self.cfg = cfg
        self.period = cfg.period or 5 * lib.num_frames
        self.clip_of = lib.frame_clip.cpu()[self.start_rows]  # [S] clip of each start
        # R per start and its visit count live on the env's device: recording needs no host sync;
        # the weights (drawn with the CPU generator) are recomputed from a copy every period
        # (one extra slot at the end takes episodes whose start has no record: a re-timed start)
        dev = lib.device
        self._record = torch.zeros(len(self.start_rows) + 1, dtype=torch.float64, device=dev)
        self._visits = torch.zeros(len(self.start_rows) + 1, dtype=torch.long, device=dev)
        self.balanced = self.clip_weights / self.clip_weights.sum()
        self.frame_weights = 1.0 / self.count[self.clip_of].double()  # p(t | c): uniform until the first update
        self.steps = 0
        self.updates = 0
        # start row (flat library row) -> index into start_rows, for recording
        self._index = torch.full((lib.num_frames,), -1, dtype=torch.long, device=dev)
        self._index[self.start_rows.to(dev)] = torch.arange(len(self.start_rows), device=dev)

    # --- recording ---------------------------------------------------------------------------
    def record_episodes(self, clips: torch.Tensor, frames: torch.Tensor, mean_reward: torch.Tensor) -> None:
        """Blend finished episodes' mean per-step rewards into the record of their starts (on the
        device; when one batch holds two episodes from the same start, one of them counts)."""
        rows = self._index[self.lib.starts[clips] + frames]
        rows = torch.where(rows >= 0, rows, len(self._record) - 1)
        m = torch.nan_to_num(mean_reward.detach().double(), nan=0.0)
        self._record[rows] = 0.5 * (self._record[rows] + m)
        self._visits.index_add_(0, rows, torch.ones_like(rows))

    @property
    def record(self) -> torch.Tensor:
        """R per start (``start_rows`` order), on the device."""
        return self._record[:-1]

    @property
    def visits(self) -> torch.Tensor:
        return self._visits[:-1]

    def on_step(self) -> None:
        """Called once per env step; recomputes the weights every ``period`` steps."""
        self.steps += 1
        if self.steps % self.period == 0:
            self.update()

    # --- weights ------------------------------------------------------------------------------
    def update(self) -> None:
        alpha, lib = self.cfg.alpha, self.lib
        n = lib.num_clips
        record = self.record.cpu()  # one read per period
        per_clip = torch.zeros(n, dtype=torch.float64).index_add_(0, self.clip_of, record)
        mean = per_clip / self.count.clamp_min(1).double()  # R_c
        skills = lib.skill_ids.cpu()
        has = self.count > 0
        class_mean = torch.zeros(n, dtype=torch.float64)
        intra = torch.zeros(n, dtype=torch.float64)
        for s in skills.unique().tolist():
            members = (skills == s) & has
            if members.any():
                class_mean[members] = mean[members].mean()
                e = torch.exp(-5 * mean[members])
                intra[members] = e / e.sum()
        cls = torch.where(has, torch.exp(-5 * class_mean), 0.0)
        combined = (cls / cls.sum()) * intra
        combined = combined / combined.sum()
        self.clip_weights = ((1 - alpha) * self.balanced + alpha * combined).float()
        # per clip: softmax over its starts of -10 R, mixed with uniform
        z = -10 * record
        zmax = torch.full((n,), -math.inf, dtype=torch.float64).scatter_reduce(0, self.clip_of, z, "amax")
        e = torch.exp(z - zmax[self.clip_of])
        total = torch.zeros(n, dtype=torch.float64).index_add_(0, self.clip_of, e)
        soft = e / total[self.clip_of]
        self.frame_weights = (1 - alpha) / self.count[self.clip_of].double() + alpha * soft
        self.updates += 1

    def sample(self, env_ids: torch.Tensor) -> Starts:
        n = env_ids.numel()
        clips = torch.multinomial(self.clip_weights, n, replacement=True, generator=self.gen)
        # inverse CDF within each clip: every clip's frame weights sum to 1 and its starts are contiguous
        cdf = torch.cumsum(self.frame_weights, 0)
        before = torch.where(self.offset > 0, cdf[(self.offset - 1).clamp_min(0)], 0.0)
        u = torch.rand(n, generator=self.gen, dtype=torch.float64)
        k = torch.searchsorted(
            cdf, before[clips] + u * (cdf[self.offset[clips] + self.count[clips] - 1] - before[clips])
        )
        k = torch.minimum(torch.maximum(k, self.offset[clips]), self.offset[clips] + self.count[clips] - 1)
        frames = self.start_rows[k] - self._starts[clips]
        return Starts(clips.to(self.lib.device), frames.to(self.lib.device))

    # --- reporting ----------------------------------------------------------------------------
    def entropy(self) -> tuple[float, float]:
        """Entropy (nats) of the clip distribution and the mean entropy of the per-clip frame
        distributions: how far the sampler has moved from uniform."""
        p = self.clip_weights.double() / self.clip_weights.sum()
        clip_h = float(-(p[p > 0] * p[p > 0].log()).sum())
        q = self.frame_weights
        h = torch.zeros(self.lib.num_clips, dtype=torch.float64).index_add_(
            0, self.clip_of, -q * q.clamp_min(1e-300).log()
        )
        return clip_h, float(h[self.count > 0].mean())

    def lowest(self, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` clips with the lowest mean record (the hardest, sampled most)."""
        per_clip = torch.zeros(self.lib.num_clips, dtype=torch.float64).index_add_(0, self.clip_of, self.record.cpu())
        mean = per_clip / self.count.clamp_min(1).double()
        mean[self.count == 0] = math.inf
        order = mean.argsort()[: min(k, int((self.count > 0).sum()))]
        return [(self.lib.names[c], float(mean[c])) for c in order.tolist()]

    def record_image(self) -> torch.Tensor:
        """[clips, longest clip] record per clip over start frames, scaled to [0, 1] (0 where no start)."""
        img = torch.zeros(self.lib.num_clips, int(self.lib.lengths.max()), dtype=torch.float64)
        frames = self.start_rows - self._starts[self.clip_of]
        img[self.clip_of, frames] = self.record.cpu()
        top = float(img.max())
        return (img / top if top > 0 else img).float()

    def log(self, writer, frame: int, epoch: int) -> None:
        clip_h, frame_h = self.entropy()
        writer.add_scalar("ats/clip_entropy", clip_h, frame)
        writer.add_scalar("ats/frame_entropy", frame_h, frame)
        writer.add_scalar("ats/updates", self.updates, frame)
        writer.add_text("ats/lowest_clips", ", ".join(f"{n} {r:.3f}" for n, r in self.lowest()), frame)
        if self.cfg.image_every > 0 and epoch % self.cfg.image_every == 0:
            writer.add_image("ats/record", self.record_image(), frame, dataformats="HW")

    def state_dict(self) -> dict:
        return dict(
            rng=self.gen.get_state(),
            record=self.record.clone(),
            visits=self.visits.clone(),
            clip_weights=self.clip_weights.clone(),
            frame_weights=self.frame_weights.clone(),
            steps=self.steps,
            updates=self.updates,
        )

    def load_state_dict(self, state: dict) -> None:
        self.gen.set_state(state["rng"])
        if "record" in state:
            self._record[:-1] = state["record"].to(self._record.device, torch.float64)
            self._visits[:-1] = state["visits"].to(self._visits.device)
            self.clip_weights = state["clip_weights"].clone()
            self.frame_weights = state["frame_weights"].clone()
            self.steps, self.updates = int(state["steps"]), int(state["updates"])
