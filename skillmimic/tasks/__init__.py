"""High-level tasks solved by choosing skills of a frozen skill policy. Every module of this package
but ``common`` is a task (what one provides: ``common.py``); they are found here, so a new task is
one new file, and the CLI, the viewer and task eval pick it up. ``register`` adds a task module
from elsewhere (a user's own, a test's)."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from skillmimic.errors import SkillMimicError

_NOT_TASKS = {"common"}
REQUIRED = (
    "NAME",
    "SKILLS",
    "OBS_SIZE",
    "CONFIG",
    "MOVABLE",
    "sample",
    "observe",
    "reward",
    "advance",
    "markers",
    "focus",
)
TASKS: dict[str, ModuleType] = {}


def register(module: ModuleType) -> ModuleType:
    """Add a task module (checked to provide what ``common.py`` lists); returns it."""
    missing = [a for a in REQUIRED if not hasattr(module, a)]
    if missing:
        raise SkillMimicError(f"task module {module.__name__}: missing {', '.join(missing)}")
    TASKS[module.NAME] = module
    return module


def get_task(name: str | None) -> ModuleType:
    if name not in TASKS:
        raise SkillMimicError(f"unknown task {name!r}; tasks: {', '.join(sorted(TASKS))}")
    return TASKS[name]


for _info in pkgutil.iter_modules(__path__):
    if _info.name not in _NOT_TASKS:
        register(importlib.import_module(f"{__name__}.{_info.name}"))
