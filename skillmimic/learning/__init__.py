"""Training: the rl-games vec-env adapter, agent, progress observer, the train driver, controllers,
distillation, export and the history encoder's training. Acting with what it trains is
``skillmimic.policy``'s; importing that first installs its rl-games warning filter here too."""

from skillmimic import policy as _policy  # noqa: F401
