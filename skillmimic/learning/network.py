"""The actor-critic network: rl-games' MLP builder, with an optionally frozen action log-std.

rl-games' ``fixed_sigma`` makes the log-std state-independent but still trains it; upstream
SkillMimic keeps it constant (-2.9), which ``learn_sigma: False`` restores here.
"""
from __future__ import annotations

from rl_games.algos_torch import model_builder, network_builder

NETWORK_NAME = "skillmimic_actor_critic"


class ActorCriticBuilder(network_builder.A2CBuilder):
    class Network(network_builder.A2CBuilder.Network):
        def __init__(self, params, **kwargs):
            super().__init__(params, **kwargs)
            if not params["space"]["continuous"].get("learn_sigma", True):
                self.sigma.requires_grad_(False)

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
            "space": {"continuous": {
                "mu_activation": "None", "sigma_activation": "None",
                "mu_init": {"name": "default"}, "sigma_init": {"name": "const_initializer", "val": ppo.log_std},
                "fixed_sigma": True, "learn_sigma": ppo.learn_log_std}},
            "mlp": {"units": list(ppo.units), "activation": "relu", "d2rl": False,
                    "initializer": {"name": "default"}, "regularizer": {"name": "None"}},
        },
    }
