"""rl-games' PPO agents with SkillMimic's checkpoints: the continuous one (skill policies, with
upstream's action bound loss) and the discrete one (high-level controllers)."""

from __future__ import annotations

import math
import os
import time

import torch
from rl_games.algos_torch.a2c_continuous import A2CAgent
from rl_games.algos_torch.a2c_discrete import DiscreteA2CAgent

from skillmimic.errors import SkillMimicError
from skillmimic.learning import distributed
from skillmimic.policy.checkpoint import atomic_save, load_checkpoint, model_weights

AGENT_NAME = "skillmimic_ppo"
HLC_AGENT_NAME = "skillmimic_hlc_ppo"


class CheckpointedAgent:
    """What both agents add to rl-games: atomic, code-free checkpoints carrying our metadata, and
    a wall-clock limit (``--minutes``). Mixed in before the rl-games agent class."""

    def _setup(self, params) -> None:
        ranks = params["config"].get("ranks")
        if ranks is not None and ranks.distributed:
            self._go_distributed(ranks)
        self.metadata = params["config"]["skillmimic"]
        self.fresh_optimizer = bool(params["config"].get("fresh_optimizer"))  # train --resume-from
        minutes = params["config"].get("minutes", 0.0)
        self.deadline = time.monotonic() + 60.0 * minutes if minutes > 0 else None

    def _go_distributed(self, ranks: distributed.Ranks) -> None:
        """rl-games' multi-GPU path on an agent built as a single-process one (``distributed.py``):
        gradients, KL, learning rate and the stop decision then go through the process group; only
        rank 0 keeps a tensorboard writer."""
        self.multi_gpu = True
        self.global_rank, self.local_rank, self.world_size = ranks.rank, ranks.local_rank, ranks.world_size
        writer = getattr(self, "writer", None)  # rl-games' SummaryWriter
        if not ranks.main and writer is not None:
            writer.close()
            self.writer = None

    def train(self):
        if not self.multi_gpu:
            return super().train()
        with distributed.cuda_free_multi_gpu(self.ppo_device):
            return super().train()

    def trancate_gradients_and_step(self):
        """rl-games' step (gradients averaged across ranks), then the normalisers merged across ranks:
        rl-games updates them from each rank's own minibatch, and they must stay identical."""
        out = super().trancate_gradients_and_step()
        if self.multi_gpu:
            distributed.sync_running_stats(self.model, self.world_size)
        return out

    def train_epoch(self):
        """One PPO epoch; past the ``--minutes`` deadline this epoch becomes the last one, so rl-games
        saves and stops through its normal end-of-training path."""
        out = super().train_epoch()
        if self.deadline is not None and time.monotonic() >= self.deadline:
            self.max_epochs = self.epoch_num
        return out

    def save(self, fn):
        """rl-games names a checkpoint after the run (best) or 'last_...' (periodic and final);
        we keep two files, ``best.pth`` and ``last.pth``, each written atomically."""
        kind = "best" if os.path.basename(fn) == self.config["name"] else "last"
        state = self.get_full_state_weights()
        # rl-games keeps its best mean reward as a numpy scalar; checkpoints hold plain data only
        state["last_mean_rewards"] = float(state["last_mean_rewards"])
        state["skillmimic"] = self.metadata
        atomic_save(state, os.path.join(self.nn_dir, f"{kind}.pth"))

    def restore(self, fn, set_epoch=True):
        """Resume from one of our checkpoints. rl-games' own ``torch_ext.load_checkpoint`` calls
        ``torch.load(weights_only=False)``, which would run any code the file holds; ours does not."""
        state = load_checkpoint(fn)
        meta = state["skillmimic"]
        if meta.get("exported") and not meta.get("resumable"):
            raise SkillMimicError(
                f"{fn}: an exported policy (no optimizer or critic) cannot be resumed; resume from a "
                "training checkpoint (runs/<name>/nn/last.pth) or a file of export-policy --resumable"
            )
        # a compact resumable file holds fp16 weights: back to the model's own precision
        state["model"] = model_weights(state)
        try:
            if meta.get("resumable") or self.fresh_optimizer:
                # weights, normalisers, counters and sampler state; the optimizer starts afresh
                self.set_weights(state)
                if set_epoch:
                    self.epoch_num, self.frame = int(state["epoch"]), int(state["frame"])
                self.vec_env.set_env_state(state.get("env_state"))
                return
            self.set_full_state_weights(state, set_epoch=set_epoch)
        except (RuntimeError, KeyError, ValueError) as e:  # a layer of another shape, a missing part
            reason = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
            raise SkillMimicError(f"{fn}: does not fit this run's network and settings: {reason}") from None

    def restore_central_value_function(self, fn):
        self.set_central_value_function_weights(load_checkpoint(fn))


class SkillMimicAgent(CheckpointedAgent, A2CAgent):
    def __init__(self, base_name, params):
        A2CAgent.__init__(self, base_name, params)
        self._setup(params)
        if params["config"].get("mu_init") == "mean_pose":
            self._init_mean_pose()

    def _init_mean_pose(self) -> None:
        """Action-layer bias = the training clips' mean joint angles (as actions, i.e. / pi): an
        untrained policy then holds the data's average pose instead of the zero pose."""
        env = self.vec_env.env
        dof = env.lib.frames.dof_pos[:, env.actions.dofs]
        with torch.no_grad():
            self.model.a2c_network.mu.bias.copy_((dof.mean(dim=0) / math.pi).clamp(-1.0, 1.0))

    def bound_loss(self, mu: torch.Tensor) -> torch.Tensor:
        """Penalise action means outside [-1, 1] (rl-games uses 1.1; upstream SkillMimic uses 1)."""
        if self.bounds_loss_coef is None:
            return torch.zeros(mu.shape[0], device=mu.device)
        return ((mu - 1.0).clamp_min(0.0) ** 2 + (mu + 1.0).clamp_max(0.0) ** 2).sum(dim=-1)


class HLCAgent(CheckpointedAgent, DiscreteA2CAgent):
    """rl-games' discrete PPO for high-level controllers (one skill choice per step)."""

    def __init__(self, base_name, params):
        DiscreteA2CAgent.__init__(self, base_name, params)
        self._setup(params)
