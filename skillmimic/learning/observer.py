"""Per-epoch progress line and tensorboard scalars for training (an rl-games algo observer).

Per-step values are summed on the env's device and read once per epoch: a ``float()`` or
``int()`` of a CUDA tensor every step would wait for the GPU each time.
"""

from __future__ import annotations

import time

import torch
from rl_games.common.algo_observer import AlgoObserver

from skillmimic.envs.rewards import TERMS


class EpochObserver(AlgoObserver):
    """What every progress observer keeps: this epoch's throughput, the epoch label (with the
    ``--minutes`` clock when set), the run summary and the tensorboard writer's close."""

    def __init__(self, max_epochs: int, minutes: float = 0.0):
        self.max_epochs, self.minutes = max_epochs, minutes
        self.epochs_run, self.samples_run = 0, 0
        self.last: dict[str, float] = {}

    def after_init(self, algo) -> None:
        self.algo = algo
        self.writer = algo.writer
        self.start_time = self.last_time = time.perf_counter()
        self.vec_env = algo.vec_env

    def _next_epoch(self, epoch_num: int) -> tuple[float, str]:
        """Count the epoch just finished; its samples/s and its label for the progress line."""
        now = time.perf_counter()
        # this epoch's samples over this epoch's time (not a difference of rl-games' frame counter,
        # which a resume restores after this observer has started)
        ranks = getattr(self.algo, "world_size", 1)
        samples = self.algo.curr_frames * ranks  # every rank's worlds
        rate = samples / max(now - self.last_time, 1e-9)
        self.last_time = now
        self.epochs_run += 1
        self.samples_run += samples
        if self.minutes > 0:
            where = f"epoch {epoch_num} ({(now - self.start_time) / 60.0:.1f}/{self.minutes:g} min)"
        else:
            where = f"epoch {epoch_num}/{self.max_epochs}"
        if ranks > 1:
            where += f" [{ranks} ranks]"
        return rate, where

    def _last_epoch(self) -> str:
        """The summary's tail: the last epoch's numbers."""
        return ""

    def summary(self) -> str:
        """One line on the whole run: epochs, samples, wall clock, throughput, last epoch's numbers."""
        minutes = (time.perf_counter() - self.start_time) / 60.0 if self.epochs_run else 0.0
        rate = self.samples_run / max(60.0 * minutes, 1e-9)
        return (
            f"{self.epochs_run} epochs, {self.samples_run:,} samples in {minutes:.1f} min ({rate:,.0f} samples/s)"
            f"{self._last_epoch()}"
        )

    def close(self) -> None:
        """Flush and close the tensorboard writer (rl-games leaves it open when training ends)."""
        if getattr(self, "writer", None) is not None:
            self.writer.close()


class ProgressObserver(EpochObserver):
    """The skill policy's progress: step reward and its terms, episode length, resets."""

    def __init__(self, max_epochs: int, minutes: float = 0.0):
        super().__init__(max_epochs, minutes)
        self._warned: str | None = None
        self._starts: dict[str, int] = {}  # the env's start totals at the last epoch
        self._reset_accumulators()

    def _reset_accumulators(self) -> None:
        self.steps = 0
        # per step: mean reward, mean of each term (TERMS order), falls, diverged worlds (float64)
        self._sums: torch.Tensor | None = None
        self.reward_sum = 0.0
        self.terms = {k: 0.0 for k in TERMS}
        self.falls = 0
        self.drifted = 0
        self.diverged = 0

    def process_infos(self, infos, done_indices) -> None:
        info = infos.get("step") if isinstance(infos, dict) else None
        if info is None:
            return
        self.steps += 1
        step = torch.stack((info.reward, *(info.terms[k] for k in TERMS))).double()
        counts = torch.stack((info.fell.sum(), info.drifted.sum(), info.diverged.sum())).double()
        values = torch.cat((step, counts))
        self._sums = values if self._sums is None else self._sums + values

    def _read_sums(self) -> None:
        """Move the epoch's device sums into ``reward_sum``, ``terms`` and the reset counts."""
        if self._sums is None:
            return
        sums = self._sums.tolist()  # the epoch's one read from the device
        self.reward_sum = sums[0]
        self.terms = dict(zip(TERMS, sums[1 : 1 + len(TERMS)], strict=True))
        self.falls, self.drifted, self.diverged = (int(v) for v in sums[-3:])

    def after_print_stats(self, frame, epoch_num, total_time) -> None:
        rate, where = self._next_epoch(epoch_num)
        self._read_sums()
        n = max(self.steps, 1)
        reward = self.reward_sum / n
        terms = {k: v / n for k, v in self.terms.items()}
        ep_len = float(self.algo.game_lengths.get_mean()) if self.algo.game_lengths.current_size else float("nan")
        w = self.writer
        w.add_scalar("reward/step_mean", reward, frame)
        w.add_scalar("reward/step_mean_by_epoch", reward, epoch_num)
        for k, v in terms.items():
            w.add_scalar(f"reward_terms/{k}", v, frame)
        if ep_len == ep_len:  # no episode has ended yet: nothing to log
            w.add_scalar("episode/length", ep_len, frame)
        w.add_scalar("resets/falls", self.falls, frame)
        w.add_scalar("resets/drifted", self.drifted, frame)
        w.add_scalar("resets/diverged", self.diverged, frame)
        w.add_scalar("performance/samples_per_s", rate, frame)
        starts = self._log_starts(frame)
        sampler_log = getattr(self.vec_env.env.sampler, "log", None)  # adaptive sampling's weights
        if sampler_log is not None:
            sampler_log(self.writer, frame, epoch_num)
        message = self.vec_env.env.overflow_message  # the env's first overflow report, kept there
        term_text = " ".join(f"{k} {v:.2f}" for k, v in terms.items())
        print(
            f"{where}  samples {self.algo.frame:,}  {rate:,.0f} samples/s  reward {reward:.3f}  "
            f"[{term_text}]  ep_len {ep_len:.1f}  falls {self.falls}  drifted {self.drifted}  "
            f"diverged {self.diverged}{starts}",
            flush=True,
        )
        self.last = dict(epoch=epoch_num, samples=self.algo.frame, reward=reward, ep_len=ep_len)
        if message and message != self._warned:
            print(f"warning: {message}", flush=True)
            self._warned = message
        self._reset_accumulators()

    def _log_starts(self, frame: int) -> str:
        """Tensorboard: fraction of this epoch's episode starts of each kind (reference, noisy,
        switch) and their mean buffer steps. Returns the progress line's part ("" when every
        start was a plain reference start)."""
        totals = self.vec_env.env.start_totals
        epoch = {k: v - self._starts.get(k, 0) for k, v in totals.items()}
        self._starts = totals
        buffer = epoch.pop("buffer_steps")
        n = sum(epoch.values())
        if n == 0:
            return ""
        for k, v in epoch.items():
            self.writer.add_scalar(f"starts/{k}_fraction", v / n, frame)
        off = n - epoch["reference"]
        self.writer.add_scalar("starts/buffer_mean", buffer / max(off, 1), frame)
        if off == 0:
            return ""
        return f"  starts noisy {epoch['noisy']} switch {epoch['switch']} of {n}"

    def _last_epoch(self) -> str:
        last = self.last
        return f"; last epoch {last['epoch']}: reward {last['reward']:.3f}, ep_len {last['ep_len']:.1f}" if last else ""
