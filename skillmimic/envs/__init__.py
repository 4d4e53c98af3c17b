"""Environments: the HOI imitation env and its pure observation and reward functions."""
