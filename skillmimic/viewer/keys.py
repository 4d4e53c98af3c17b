"""The viewer's key map: which key steers the policy to which skill (shown in ``--help`` and on screen)."""

from __future__ import annotations

# (key label, GLFW key code, what it does, skill ids to try in order)
KEYS = (
    ("Left", 263, "dribble left", (11,)),
    ("Up", 265, "dribble forward", (13,)),
    ("Right", 262, "dribble right", (12,)),
    ("Q", 81, "pick up", (1,)),
    ("W", 87, "shot", (9, 5, 6, 7, 22)),
    ("E", 69, "layup", (31,)),
    ("R", 82, "turnaround layup", (34,)),
)
KEY_HELP = "viewer keys: " + ", ".join(f"{label} = {what}" for label, _, what, _ in KEYS)


def skill_for_key(keycode: int, available) -> int | None:
    """The skill a key selects among those the policy knows, or None."""
    for _, code, _, skills in KEYS:
        if code == keycode:
            return next((s for s in skills if s in available), None)
    return None
