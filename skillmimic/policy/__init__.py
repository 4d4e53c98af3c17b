"""Acting with trained policies: a skill policy or a high-level controller loaded from its file
alone, on any device. Below ``tasks``, ``eval``, ``viewer`` and ``io``; ``learning`` trains what
these load.

rl-games scripts its normalisers with ``torch.jit.script`` (algos_torch/models.py) and its import
pulls in torch modules using ``torch.jit.script_method`` (torch.utils.mkldnn, via rl_games.envs
calling torch.compile); torch 2.13 flags both as deprecated whenever DeprecationWarnings are shown
(``-W default``, ``-X dev``, PYTHONWARNINGS). Code users cannot change: silenced here, before any
rl-games import of this package or of ``learning``, by exact message and module only.
"""

import warnings

warnings.filterwarnings(
    "ignore", r"`torch\.jit\.script(_method)?` is deprecated", DeprecationWarning, r"torch\.jit\._script"
)

from skillmimic.policy.checkpoint import is_controller, load_checkpoint  # noqa: E402 (after the filter)
from skillmimic.policy.controller import ControllerPolicy  # noqa: E402
from skillmimic.policy.skill import SkillPolicy, load_policy  # noqa: E402

__all__ = ["ControllerPolicy", "SkillPolicy", "is_controller", "load_checkpoint", "load_policy"]
