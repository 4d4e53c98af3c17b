"""Where episodes start: the reset seam of the imitation env.

A sampler returns, for the envs being reset, a ``Starts``: the reference (clip and start frame)
each env will track and, optionally, a simulator start state other than that reference frame, a
rigid re-anchoring of the reference, a skill label and a number of buffer steps. The default
draws a skill uniformly, then a clip of that skill uniformly, then a start frame uniformly among
the clip's valid frames that leave at least one step of reference (so every skill is trained
equally often, whatever its number of clips). The state transition field of SkillMimic-V2
(noisy starts, graph switches: ``envs/transition_field.py``) wraps a sampler; samplers that keep
statistics provide ``state_dict`` / ``load_state_dict``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from skillmimic.errors import SkillMimicError
from skillmimic.motion.library import MotionLibrary
from skillmimic.sim.state import SimState

START_KINDS = ("reference", "noisy", "switch")  # ``Starts.kind`` indexes this


@dataclass
class Starts:
    """Episode starts for a batch of envs (tensors on the library's device, leading dim n).

    The reference is clip ``clips`` from frame ``frames`` on, rotated by ``anchor_yaw`` about
    world z and shifted by ``anchor_shift`` (xy; see ``MotionState.anchored``). The simulator
    starts in ``state``, or in the (anchored) reference frame when None. For the first
    ``buffer`` steps the env's reward is its clip's mean reward (the env is finding its way
    onto the reference).
    """

    clips: torch.Tensor
    frames: torch.Tensor
    state: SimState | None = None
    anchor_yaw: torch.Tensor | None = None  # [n] rad
    anchor_shift: torch.Tensor | None = None  # [n, 3], z = 0
    buffer: torch.Tensor | None = None  # [n] steps
    kind: torch.Tensor | None = None  # [n] index into START_KINDS; None: all "reference"


class UniformStartSampler:
    def __init__(self, lib: MotionLibrary, generator: torch.Generator):
        self.lib = lib
        self.gen = generator
        # draws use a CPU generator; keep what they index on the CPU once instead of copying per reset
        starts, lengths = lib.starts.cpu(), lib.lengths.cpu()
        can_start = lib.valid.cpu().clone()
        can_start[starts + lengths - 1] = False  # a start needs one frame after it
        self.start_rows = can_start.nonzero().flatten()  # flat rows that may start an episode
        per_clip = torch.bincount(lib.frame_clip.cpu()[self.start_rows], minlength=lib.num_clips)
        self.count = per_clip
        self.offset = torch.cumsum(per_clip, 0) - per_clip
        skills = lib.skill_ids.cpu()
        per_skill = torch.stack([((skills == s) & (per_clip > 0)).sum() for s in skills]).float()
        # each skill gets equal total weight; a clip without a valid start gets none
        self.clip_weights = torch.where(per_clip > 0, 1.0 / per_skill.clamp_min(1), 0.0)
        if not bool((self.clip_weights > 0).any()):
            raise SkillMimicError(f"no clip of {', '.join(lib.names)} has a valid start frame (all frames missing?)")
        self._starts = starts

    def frame_of(self, clips: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """The ``k``-th valid start frame of each clip (CPU tensors; ``k < count[clips]``)."""
        return self.start_rows[self.offset[clips] + k] - self._starts[clips]

    def sample(self, env_ids: torch.Tensor) -> Starts:
        n = env_ids.numel()
        clips = torch.multinomial(self.clip_weights, n, replacement=True, generator=self.gen)
        k = (torch.rand(n, generator=self.gen) * self.count[clips]).long()
        return Starts(clips.to(self.lib.device), self.frame_of(clips, k).to(self.lib.device))

    def state_dict(self) -> dict:
        return {"rng": self.gen.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.gen.set_state(state["rng"])


class FixedStartSampler:
    """Env i always starts as ``starts`` row i: a plain (clip, frame) pair, or any ``Starts``
    (evaluation and playback; the V2 metrics start from noisy or other skills' states)."""

    def __init__(self, clips: torch.Tensor | Starts, starts: torch.Tensor | None = None):
        if isinstance(clips, Starts):
            self.starts = clips
        else:
            assert starts is not None, "clip ids need their start frames"
            self.starts = Starts(clips, starts)

    def sample(self, env_ids: torch.Tensor) -> Starts:
        s = self.starts
        pick = lambda t: None if t is None else t[env_ids]  # noqa: E731
        return Starts(
            s.clips[env_ids],
            s.frames[env_ids],
            None if s.state is None else s.state.index(env_ids),
            pick(s.anchor_yaw),
            pick(s.anchor_shift),
            pick(s.buffer),
            pick(s.kind),
        )

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass
