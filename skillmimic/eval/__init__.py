"""Evaluation: per-skill success criteria and batched deterministic episodes."""
