"""rl-games integration: vec-env adapter, network, agent, progress observer and the train driver.

rl-games scripts its normalisers with ``torch.jit.script`` (algos_torch/models.py) and its import
pulls in torch modules using ``torch.jit.script_method`` (torch.utils.mkldnn, via rl_games.envs
calling torch.compile); torch 2.13 flags both as deprecated whenever DeprecationWarnings are shown
(``-W default``, ``-X dev``, PYTHONWARNINGS). Code users cannot change: silenced here, where every
rl-games import of this package passes, by exact message and module only.
"""

import warnings

warnings.filterwarnings(
    "ignore", r"`torch\.jit\.script(_method)?` is deprecated", DeprecationWarning, r"torch\.jit\._script"
)
