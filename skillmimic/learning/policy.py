"""A trained policy, loaded from a checkpoint alone: its config, observation layout and skills
travel with the weights, so ``play`` and ``eval`` need nothing else. A training checkpoint and an
exported policy (``skillmimic export-policy``) both work."""

from __future__ import annotations

import contextlib
import io
from dataclasses import replace
from pathlib import Path

import torch
from rl_games.algos_torch import model_builder

from skillmimic.config import SimSection, TrainConfig, load_config, resolve_device
from skillmimic.envs.actions import action_dofs, check_finger_pose
from skillmimic.envs.observations import obs_layout, obs_size
from skillmimic.errors import SkillMimicError
from skillmimic.learning import network
from skillmimic.learning.checkpoint import load_checkpoint
from skillmimic.learning.export import is_critic
from skillmimic.learning.history_encoder import encoder_from_state
from skillmimic.motion.library import MotionLibrary
from skillmimic.skills import skill_name


def build_model(config: TrainConfig) -> torch.nn.Module:
    """rl-games' actor-critic model for ``config.ppo`` (untrained weights)."""
    network.register()
    ppo = config.ppo
    with contextlib.redirect_stdout(io.StringIO()):  # rl-games prints each layer it builds
        net = model_builder.ModelBuilder().load(network.network_params(ppo))
        return net.build(
            {
                "actions_num": len(action_dofs(config.env.fingers)),
                "input_shape": (obs_size(config.history.enabled, config.env.reference_obs),),
                "num_seqs": 1,
                "value_size": 1,
                "normalize_value": ppo.normalize_value,
                "normalize_input": ppo.normalize_input,
            }
        )


class Policy:
    def __init__(self, path: str | Path, device: str | torch.device = "cpu"):
        self.path = Path(path)
        state = load_checkpoint(self.path)
        meta = state["skillmimic"]
        if meta.get("kind") == "high-level controller":
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
        weights = {
            k.removeprefix("_orig_mod."): v.float() if v.dtype == torch.float16 else v
            for k, v in state["model"].items()
        }
        try:
            missing, unexpected = self.model.load_state_dict(weights, strict=not self.exported)
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

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> torch.Tensor:
        """Deterministic action: the policy mean, clipped to the action range."""
        out = self.model({"is_train": False, "prev_actions": None, "obs": obs.to(self.device), "rnn_states": None})
        return out["mus"].clamp(-1.0, 1.0)

    def check_motion(self, lib: MotionLibrary) -> None:
        """Refuse clips of skills the policy never trained on (its skill one-hot would be unseen)."""
        unseen = sorted(set(lib.skill_ids.tolist()) - set(self.skills))
        if unseen:
            trained = ", ".join(f"{s:03d} {skill_name(s)}" for s in self.skills)
            raise SkillMimicError(
                f"{self.path}: trained on skills [{trained}], but the motion has "
                f"{', '.join(f'{s:03d} {skill_name(s)}' for s in unseen)}"
            )


def load_policy(checkpoint: str, device: str = "auto", backend: str = "auto") -> tuple[Policy, TrainConfig]:
    """The policy on this machine's device, and its training config with device and backend resolved."""
    where = resolve_device(TrainConfig(sim=SimSection(device=device, backend=backend))).sim
    policy = Policy(checkpoint, where.device)
    cfg = policy.config
    return policy, replace(cfg, sim=replace(cfg.sim, device=where.device, backend=where.backend))
