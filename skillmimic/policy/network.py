"""The actor-critic networks: rl-games' MLP builder, with an optionally frozen action log-std
(skill policies), and its discrete-head variant (high-level controllers); built and called the
same way for training (``learning/``) and acting (``policy/``).

rl-games' ``fixed_sigma`` makes the log-std state-independent but still trains it; upstream
SkillMimic keeps it constant (-2.9), which ``learn_sigma: False`` restores here; the constant
then comes from the config, also when weights are loaded.

On the CPU the dense layers run their float32 matrix products through oneDNN (forward and
backward) instead of the BLAS behind ``torch.nn.functional.linear``: on the AMD EPYC the
benchmarks ran on that BLAS takes its AVX2 code path and oneDNN's AVX-512 kernels do the same
float32 products about 2x faster, which is most of a CPU PPO update. Parameters, state dict
and results (to float32 rounding) are those of ``torch.nn.Linear``. Opt-in with
``SKILLMIMIC_ONEDNN_LINEAR=1``: the rounding differences change a training run's trajectory, and
the learning-signal test (tests/test_train.py) then rose 0.028 -> 0.037 instead of 0.024 -> 0.042;
until that is understood the default stays ``torch.nn.Linear``.
"""

from __future__ import annotations

import contextlib
import io
import os

import torch
from rl_games.algos_torch import model_builder, network_builder

NETWORK_NAME = "skillmimic_actor_critic"


def _onednn_linear_works() -> bool:
    try:
        x, w, b = torch.randn(3, 5), torch.randn(4, 5), torch.randn(4)
        y = torch.ops.mkldnn._linear_pointwise(x, w, b, "none", [], "")
        return torch.allclose(y, torch.nn.functional.linear(x, w, b), atol=1e-5)
    except Exception:  # no oneDNN in this torch build, or another op signature
        return False


ONEDNN_AVAILABLE = torch.backends.mkldnn.is_available() and _onednn_linear_works()
ONEDNN_LINEAR = ONEDNN_AVAILABLE and os.environ.get("SKILLMIMIC_ONEDNN_LINEAR", "0") == "1"


def _dnnl_mm(a: torch.Tensor, w: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``a @ w.T + bias`` by oneDNN; ``a`` and ``w`` may be transposed views."""
    return torch.ops.mkldnn._linear_pointwise(a, w, bias, "none", [], "")


class _OneDNNLinearFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return _dnnl_mm(x, weight, bias)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        grad = grad.contiguous()
        gx = _dnnl_mm(grad, weight.t()) if ctx.needs_input_grad[0] else None  # grad @ W
        gw = _dnnl_mm(grad.t(), x.t()) if ctx.needs_input_grad[1] else None  # grad.T @ x
        gb = grad.sum(0) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return gx, gw, gb


class OneDNNLinear(torch.nn.Linear):
    """``torch.nn.Linear`` whose float32 CPU products run through oneDNN (see the module doc)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (
            x.device.type != "cpu"
            or x.dtype != torch.float32
            or self.weight.dtype != torch.float32
            or torch.compiler.is_compiling()
            or torch.is_autocast_enabled("cpu")
        ):
            return super().forward(x)
        lead = x.shape[:-1]
        y = _OneDNNLinearFn.apply(x.reshape(-1, x.shape[-1]), self.weight, self.bias)
        return y.reshape(*lead, y.shape[-1])


def use_onednn_linear(module: torch.nn.Module) -> int:
    """Switch every plain ``nn.Linear`` under ``module`` to :class:`OneDNNLinear` in place (same
    parameters and state dict); returns how many were switched (0 when oneDNN is unavailable)."""
    if not ONEDNN_LINEAR:
        return 0
    switched = 0
    for m in module.modules():
        if type(m) is torch.nn.Linear:
            m.__class__ = OneDNNLinear
            switched += 1
    return switched


class ActorCriticBuilder(network_builder.A2CBuilder):
    class Network(network_builder.A2CBuilder.Network):
        def __init__(self, params, **kwargs):
            super().__init__(params, **kwargs)
            space = params["space"]["continuous"]
            self.frozen_log_std = None if space.get("learn_sigma", True) else float(space["sigma_init"]["val"])
            if self.frozen_log_std is not None:
                self.sigma.requires_grad_(False)
                # a frozen log-std is a setting, not a trained weight: the config's value wins over a
                # loaded one, so `train --resume-from F ppo.log_std=...` changes the exploration noise
                self.register_load_state_dict_post_hook(self._keep_log_std)
            use_onednn_linear(self)

        @staticmethod
        def _keep_log_std(module, _incompatible_keys) -> None:
            module.sigma.data.fill_(module.frozen_log_std)

    def build(self, name, **kwargs):
        return ActorCriticBuilder.Network(self.params, **kwargs)


def register() -> None:
    model_builder.register_network(NETWORK_NAME, ActorCriticBuilder)


def network_params(ppo) -> dict:
    """rl-games ``model``/``network`` sections for a ``PPOConfig``: separate actor and critic MLPs,
    linear action mean, state-independent log-std."""
    return {
        "model": {"name": "continuous_a2c_logstd"},
        "network": {
            "name": NETWORK_NAME,
            "separate": True,
            "space": {
                "continuous": {
                    "mu_activation": "None",
                    "sigma_activation": "None",
                    "mu_init": {"name": "default"},
                    "sigma_init": {"name": "const_initializer", "val": ppo.log_std},
                    "fixed_sigma": True,
                    "learn_sigma": ppo.learn_log_std,
                }
            },
            "mlp": {
                "units": list(ppo.units),
                "activation": "relu",
                "d2rl": False,
                "initializer": {"name": "default"},
                "regularizer": {"name": "None"},
            },
        },
    }


def discrete_params(units) -> dict:
    """rl-games' separate actor-critic MLPs with a discrete (logits) head (upstream HLC: [1024, 512])."""
    return {
        "model": {"name": "discrete_a2c"},
        "network": {
            "name": "actor_critic",
            "separate": True,
            "space": {"discrete": {}},
            "mlp": {
                "units": list(units),
                "activation": "relu",
                "d2rl": False,
                "initializer": {"name": "default"},
                "regularizer": {"name": "None"},
            },
        },
    }


def build(params: dict, num_actions: int, obs_size: int, normalize_input: bool, normalize_value: bool):
    """rl-games' model for ``params`` (``network_params`` or ``discrete_params``), untrained."""
    register()
    with contextlib.redirect_stdout(io.StringIO()):  # rl-games prints each layer it builds
        net = model_builder.ModelBuilder().load(params)
        return net.build(
            {
                "actions_num": num_actions,
                "input_shape": (obs_size,),
                "num_seqs": 1,
                "value_size": 1,
                "normalize_value": normalize_value,
                "normalize_input": normalize_input,
            }
        )


@torch.no_grad()
def infer(model: torch.nn.Module, obs: torch.Tensor) -> dict:
    """One deterministic forward pass of an rl-games model (its input normaliser included)."""
    device = next(model.parameters()).device
    return model({"is_train": False, "prev_actions": None, "obs": obs.to(device), "rnn_states": None})
