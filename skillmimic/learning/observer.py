"""Per-epoch progress line and tensorboard scalars for training (an rl-games algo observer)."""
from __future__ import annotations

import time

from rl_games.common.algo_observer import AlgoObserver

from skillmimic.envs.rewards import TERMS


class ProgressObserver(AlgoObserver):
    def __init__(self, max_epochs: int):
        self.max_epochs = max_epochs
        self._reset_accumulators()

    def _reset_accumulators(self) -> None:
        self.steps = 0
        self.reward_sum = 0.0
        self.terms = {k: 0.0 for k in TERMS}
        self.falls = 0
        self.diverged = 0

    def after_init(self, algo) -> None:
        self.algo = algo
        self.writer = algo.writer
        self.last_time = time.perf_counter()
        self.last_frame = algo.frame
        self.vec_env = algo.vec_env

    def process_infos(self, infos, done_indices) -> None:
        info = infos.get("step") if isinstance(infos, dict) else None
        if info is None:
            return
        self.steps += 1
        self.reward_sum += float(info.reward)
        for k, v in info.terms.items():
            self.terms[k] += float(v)
        self.falls += info.falls
        self.diverged += info.num_diverged

    def after_print_stats(self, frame, epoch_num, total_time) -> None:
        now = time.perf_counter()
        samples = self.algo.frame - self.last_frame
        rate = samples / max(now - self.last_time, 1e-9)
        self.last_time, self.last_frame = now, self.algo.frame
        n = max(self.steps, 1)
        reward = self.reward_sum / n
        terms = {k: v / n for k, v in self.terms.items()}
        ep_len = float(self.algo.game_lengths.get_mean()) if self.algo.game_lengths.current_size else float("nan")
        w = self.writer
        w.add_scalar("reward/step_mean", reward, frame)
        w.add_scalar("reward/step_mean_by_epoch", reward, epoch_num)
        for k, v in terms.items():
            w.add_scalar(f"reward_terms/{k}", v, frame)
        w.add_scalar("episode/length", ep_len, frame)
        w.add_scalar("resets/falls", self.falls, frame)
        w.add_scalar("resets/diverged", self.diverged, frame)
        w.add_scalar("performance/samples_per_s", rate, frame)
        env = self.vec_env.env
        message = env.overflow_message
        term_text = " ".join(f"{k} {v:.2f}" for k, v in terms.items())
        print(f"epoch {epoch_num}/{self.max_epochs}  samples {self.algo.frame:,}  {rate:,.0f} samples/s  reward {reward:.3f}  "
              f"[{term_text}]  ep_len {ep_len:.1f}  falls {self.falls}  diverged {self.diverged}", flush=True)
        if message:
            print(f"warning: {message}", flush=True)
            env.overflow_message = None
        self._reset_accumulators()

    def close(self) -> None:
        """Flush and close the tensorboard writer (rl-games leaves it open when training ends)."""
        if getattr(self, "writer", None) is not None:
            self.writer.close()
