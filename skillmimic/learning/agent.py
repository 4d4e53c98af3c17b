"""rl-games' continuous PPO agent with SkillMimic's checkpoints and upstream's action bound loss."""
from __future__ import annotations

import os

import torch
from rl_games.algos_torch.a2c_continuous import A2CAgent

from skillmimic.learning.checkpoint import atomic_save

AGENT_NAME = "skillmimic_ppo"


class SkillMimicAgent(A2CAgent):
    def __init__(self, base_name, params):
        super().__init__(base_name, params)
        self.metadata = params["config"]["skillmimic"]

    def save(self, fn):
        """rl-games names a checkpoint after the run (best) or 'last_...' (periodic and final);
        we keep two files, ``best.pth`` and ``last.pth``, each written atomically."""
        kind = "best" if os.path.basename(fn) == self.config["name"] else "last"
        state = self.get_full_state_weights()
        state["skillmimic"] = self.metadata
        atomic_save(state, os.path.join(self.nn_dir, f"{kind}.pth"))

    def bound_loss(self, mu: torch.Tensor) -> torch.Tensor:
        """Penalise action means outside [-1, 1] (rl-games uses 1.1; upstream SkillMimic uses 1)."""
        if self.bounds_loss_coef is None:
            return torch.zeros(mu.shape[0], device=mu.device)
        return ((mu - 1.0).clamp_min(0.0) ** 2 + (mu + 1.0).clamp_max(0.0) ** 2).sum(dim=-1)
