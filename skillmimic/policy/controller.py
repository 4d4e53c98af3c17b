"""A trained high-level controller from its checkpoint alone: its task, its control mapping and the
skill policy it drives (by path and content hash: a different file at that path is refused)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from skillmimic.config import TrainConfig, load_config
from skillmimic.errors import SkillMimicError
from skillmimic.policy import network
from skillmimic.policy.checkpoint import CONTROLLER_KIND, load_checkpoint, model_weights


def file_digest(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def check_llc(meta: dict, where: str) -> None:
    """Refuse to drive another skill policy than the one the controller was trained with."""
    path = Path(meta["llc"]["path"])
    if not path.is_file():
        raise SkillMimicError(f"{where}: its skill policy {path} is missing")
    if file_digest(path) != meta["llc"]["sha256"]:
        raise SkillMimicError(f"{where}: {path} is not the skill policy it was trained with (content differs)")


class ControllerPolicy:
    """Deterministic (the most likely skill, as upstream's player), on the checkpoint's task and skill
    policy (``llc``: its path)."""

    def __init__(self, path: str | Path, device: str | torch.device = "cpu"):
        self.path = Path(path)
        state = load_checkpoint(self.path)
        meta = state["skillmimic"]
        if meta.get("kind") != CONTROLLER_KIND:
            raise SkillMimicError(f"{self.path}: not a high-level controller checkpoint (train one with --task)")
        check_llc(meta, str(self.path))
        self.meta, self.task, self.llc = meta, meta["task"], meta["llc"]["path"]
        self.config: TrainConfig = load_config(base=meta["config"])
        self.epoch = int(state.get("epoch", 0))
        ppo = self.config.ppo
        params = network.discrete_params(ppo.units)
        self.model = network.build(
            params, meta["num_actions"], meta["obs_size"], ppo.normalize_input, ppo.normalize_value
        )
        self.model.load_state_dict(model_weights(state))
        self.device = torch.device(device)
        self.model.to(self.device).eval()

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        return network.infer(self.model, obs)["logits"].argmax(dim=-1)
