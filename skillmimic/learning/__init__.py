"""rl-games integration: vec-env adapter, network, agent, progress observer and the train driver."""
