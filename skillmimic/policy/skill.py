"""A trained policy, loaded from a checkpoint alone: its config, observation layout and skills
travel with the weights, so ``play`` and ``eval`` need nothing else. A training checkpoint and an
exported policy (``skillmimic export-policy``) both work."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from skillmimic.config import SimSection, TrainConfig, load_config, resolve_device
from skillmimic.envs.actions import action_dofs, check_finger_pose
from skillmimic.envs.history_encoder import encoder_from_state
from skillmimic.envs.observations import obs_layout, obs_size
from skillmimic.errors import SkillMimicError
from skillmimic.policy import network
from skillmimic.policy.checkpoint import CONTROLLER_KIND, is_critic, load_checkpoint, model_weights

if TYPE_CHECKING:
    from rl_games.algos_torch.models import ModelA2CContinuousLogStd


def build_model(config: TrainConfig) -> ModelA2CContinuousLogStd.Network:
    """rl-games' actor-critic model for ``config.ppo`` (untrained weights)."""
    ppo = config.ppo
    return network.build(
        network.network_params(ppo),
        len(action_dofs(config.env.fingers)),
        obs_size(config.history.enabled, config.env.reference_obs),
        ppo.normalize_input,
        ppo.normalize_value,
    )


class SkillPolicy:
    """A skill policy from its file alone, acting deterministically (the clamped action mean)."""

    def __init__(self, path: str | Path, device: str | torch.device = "cpu"):
        self.path = Path(path)
        state = load_checkpoint(self.path)
        meta = state["skillmimic"]
        if meta.get("kind") == CONTROLLER_KIND:
            raise SkillMimicError(
                f"{self.path}: a high-level controller, not a skill policy (eval it with --checkpoint)"
            )
        self.config: TrainConfig = load_config(base=meta["config"])
        history = self.config.history.enabled
        if history and "history_encoder" not in meta:
            raise SkillMimicError(f"{self.path}: trained with the history encoder, but the file does not carry it")
        # the frozen history encoder travels in the metadata: the observation needs nothing else
        self.history_encoder = encoder_from_state(meta["history_encoder"], str(self.path)) if history else None
        layout = {k: tuple(v) for k, v in meta.get("obs_layout", {}).items()}
        reference = self.config.env.reference_obs
        size, actions = obs_size(history, reference), len(action_dofs(self.config.env.fingers))
        if (
            meta.get("obs_size") != size
            or layout != obs_layout(history, reference)
            or meta.get("num_actions") != actions
        ):
            raise SkillMimicError(
                f"{self.path}: checkpoint expects {meta.get('obs_size')} observation values and "
                f"{meta.get('num_actions')} actions in another layout; this skillmimic produces {size} "
                f"observations and {actions} actions (checkpoint from skillmimic {meta.get('version')})"
            )
        # env.fingers skill_pose: the finger pose each skill holds, from the training clips
        self.finger_pose = None
        if self.config.env.fingers == "skill_pose":
            if "finger_pose" not in meta:
                raise SkillMimicError(f"{self.path}: trained with env.fingers=skill_pose, but has no finger pose table")
            self.finger_pose = check_finger_pose(meta["finger_pose"], str(self.path))
        self.clips = meta["clips"]
        self.skills = sorted({c["skill_id"] for c in self.clips})
        self.epoch = int(state.get("epoch", 0))
        self.samples = int(state.get("frame", 0))  # environment steps it trained on
        self.device = torch.device(device)
        self.model = build_model(self.config)
        # an exported policy has no critic and may hold fp16 weights (see learning/export.py)
        self.exported = bool(meta.get("exported"))
        try:
            missing, unexpected = self.model.load_state_dict(model_weights(state), strict=not self.exported)
        except RuntimeError as e:
            raise SkillMimicError(
                f"{self.path}: weights do not fit the network in its own config: {str(e).splitlines()[0]}"
            ) from None
        missing = [k for k in missing if not is_critic(k)]
        if missing or unexpected:
            raise SkillMimicError(
                f"{self.path}: weights do not fit the network in its own config: "
                f"missing {missing[:3]}, unexpected {unexpected[:3]}"
            )
        self.model.to(self.device).eval()

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        """Deterministic action: the policy mean, clipped to the action range."""
        return network.infer(self.model, obs)["mus"].clamp(-1.0, 1.0)


def load_policy(checkpoint: str | Path, device: str = "auto", backend: str = "auto") -> SkillPolicy:
    """The policy on this machine's device; its ``config.sim`` names the device and backend resolved."""
    where = resolve_device(TrainConfig(sim=SimSection(device=device, backend=backend))).sim
    policy = SkillPolicy(checkpoint, where.device)
    cfg = policy.config
    policy.config = replace(cfg, sim=replace(cfg.sim, device=where.device, backend=where.backend))
    return policy
