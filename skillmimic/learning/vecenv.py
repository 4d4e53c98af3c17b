"""The imitation env as an rl-games vec env (the env itself knows nothing of rl-games)."""

from __future__ import annotations

import numpy as np
import torch
from gymnasium import spaces
from rl_games.common import env_configurations, vecenv
from rl_games.common.ivecenv import IVecEnv

from skillmimic.envs.imitation import ImitationEnv

ENV_NAME = "skillmimic"


class RLGamesVecEnv(IVecEnv):
    def __init__(self, env: ImitationEnv):
        self.env = env

    def step(self, actions: torch.Tensor):
        obs, reward, done, info = self.env.step(actions)
        return {"obs": obs}, reward, done.to(torch.uint8), {"time_outs": info.time_outs, "step": info}

    def reset(self):
        return {"obs": self.env.reset()}

    def get_number_of_agents(self) -> int:
        return 1

    def get_env_info(self) -> dict:
        return {
            "action_space": spaces.Box(-1.0, 1.0, (self.env.num_actions,), np.float32),
            "observation_space": spaces.Box(-np.inf, np.inf, (self.env.num_obs,), np.float32),
            "agents": 1,
            "value_size": 1,
        }

    def get_env_state(self):
        return {"sampler": self.env.sampler.state_dict()}

    def set_env_state(self, state) -> None:
        if state and "sampler" in state:
            self.env.sampler.load_state_dict(state["sampler"])


def register(env: ImitationEnv) -> RLGamesVecEnv:
    """Make ``env`` the one rl-games creates under ``ENV_NAME``."""
    wrapper = RLGamesVecEnv(env)
    vecenv.register("SKILLMIMIC", lambda config_name, num_actors, **kwargs: wrapper)
    env_configurations.register(ENV_NAME, {"vecenv_type": "SKILLMIMIC", "env_creator": lambda **kwargs: env})
    return wrapper
