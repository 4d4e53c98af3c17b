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
    """An env (``step``, ``reset``, ``num_obs``, ``num_actions``) as rl-games sees it. This class
    serves the imitation env (continuous actions, sampler state in checkpoints); the high-level
    controller's ``TaskVecEnv`` changes the action space and how a step's info is passed on."""

    def __init__(self, env):
        self.env = env

    def action_space(self) -> spaces.Space:
        return spaces.Box(-1.0, 1.0, (self.env.num_actions,), np.float32)

    def step_info(self, info) -> dict:
        """The info dict the agent and the observer get: time-outs (for bootstrapping) and the step."""
        return {"time_outs": info.time_outs, "step": info}

    def step(self, actions: torch.Tensor):
        obs, reward, done, info = self.env.step(actions)
        return {"obs": obs}, reward, done.to(torch.uint8), self.step_info(info)

    def reset(self):
        return {"obs": self.env.reset()}

    def get_env_info(self) -> dict:
        return {
            "action_space": self.action_space(),
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
    return register_wrapper(RLGamesVecEnv(env), ENV_NAME, "SKILLMIMIC")


def register_wrapper(wrapper: RLGamesVecEnv, name: str, vecenv_type: str) -> RLGamesVecEnv:
    """Make ``wrapper`` (and its env) what rl-games creates for env ``name``."""
    vecenv.register(vecenv_type, lambda config_name, num_actors, **kwargs: wrapper)
    env_configurations.register(name, {"vecenv_type": vecenv_type, "env_creator": lambda **kwargs: wrapper.env})
    return wrapper
