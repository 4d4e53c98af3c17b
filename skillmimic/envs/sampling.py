"""Where episodes start: the reset seam of the imitation env.

A sampler returns, for the envs being reset, a clip and a start frame each. The default draws a skill
uniformly, then a clip of that skill uniformly, then a start frame uniformly among those that
leave at least one step of reference (so every skill is trained equally often, whatever its
number of clips). Adaptive sampling, graph switching and noisy starts (SkillMimic-V2) plug in
here by providing the same ``sample`` and, if they keep statistics, ``state_dict``.
"""

from __future__ import annotations

import torch

from skillmimic.motion.library import MotionLibrary


class UniformStartSampler:
    def __init__(self, lib: MotionLibrary, generator: torch.Generator):
        self.lib = lib
        self.gen = generator
        skills = lib.skill_ids
        per_skill = torch.stack([(skills == s).sum() for s in skills]).float()
        self.clip_weights = (1.0 / per_skill).cpu()  # each skill gets equal total weight
        # draws use a CPU generator; keep what they index on the CPU once instead of copying per reset
        self.last_start = (lib.lengths.cpu() - 2).clamp_min(0)  # a start needs one frame after it

    def sample(self, env_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = env_ids.numel()
        clips = torch.multinomial(self.clip_weights, n, replacement=True, generator=self.gen)
        starts = (torch.rand(n, generator=self.gen) * (self.last_start[clips] + 1)).long()
        return clips.to(self.lib.device), starts.to(self.lib.device)

    def state_dict(self) -> dict:
        return {"rng": self.gen.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.gen.set_state(state["rng"])


class FixedStartSampler:
    """Env i always starts at ``clips[i]``, frame ``starts[i]`` (evaluation and playback)."""

    def __init__(self, clips: torch.Tensor, starts: torch.Tensor):
        self.clips, self.starts = clips, starts

    def sample(self, env_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.clips[env_ids], self.starts[env_ids]

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass
