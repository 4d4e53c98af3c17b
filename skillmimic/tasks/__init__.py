"""High-level tasks solved by choosing skills of a frozen skill policy: heading, circling,
throwing, scoring. One module per task, each pure functions of tensors (goal sampling, task
observation, reward, success); ``TASKS`` maps names to them."""

from skillmimic.tasks import circling, heading, scoring, throwing

TASKS = {m.NAME: m for m in (heading, circling, throwing, scoring)}
