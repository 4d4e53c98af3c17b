"""Offscreen video and the interactive viewer."""
