"""The viewer's keys: skill keys steer a skill policy, goal keys move a controller's goal, C switches
the camera (shown in ``--help`` and, wrapped to the window, on screen).

MuJoCo's viewer binds nearly every letter to a visual or render flag (W wireframe, I inertia, K
skybox, ...) and still passes the key on to us; ``shortcut_flags`` names the flags our keys would
also toggle so the viewer loop can hold them where they were.
"""

from __future__ import annotations

import mujoco

from skillmimic.skills import skill_id


def _ids(*names: str) -> tuple[int, ...]:
    return tuple(skill_id(n) for n in names)


# (key label, GLFW key code, what it does, skill ids to try in order)
KEYS = (
    ("Left", 263, "dribble left", _ids("dribble_left")),
    ("Up", 265, "dribble forward", _ids("dribble_forward")),
    ("Right", 262, "dribble right", _ids("dribble_right")),
    ("Q", 81, "pick up", _ids("pickup")),
    ("W", 87, "shot", _ids("shot", "shot_style1", "shot_style2", "shot_style3", "jump_shot")),
    ("E", 69, "layup", _ids("layup")),
    ("R", 82, "turnaround layup", _ids("turnaround_layup")),
)
GOAL_STEP = 0.5  # m per goal key press
# (key label, GLFW key code, world x/y direction): I/K along +y/-y, J/L along -x/+x
GOAL_KEYS = (("I", 73, (0.0, 1.0)), ("J", 74, (-1.0, 0.0)), ("K", 75, (0.0, -1.0)), ("L", 76, (1.0, 0.0)))
CAMERA_KEY = ("C", 67)

SKILL_HELP = [f"{label} = {what}" for label, _, what, _ in KEYS]
GOAL_HELP = [f"I/J/K/L = move the goal {GOAL_STEP:g} m (+y/-x/-y/+x)"]
CAMERA_HELP = [f"{CAMERA_KEY[0]} = camera follows / free", "Tab = MuJoCo's menus"]
KEY_HELP = (
    "viewer keys: "
    + ", ".join(SKILL_HELP + CAMERA_HELP)
    + "; a high-level controller checkpoint picks the skills itself: "
    + ", ".join(GOAL_HELP)
    + " (these keys override MuJoCo's own shortcuts of the same letters)"
)


def skill_for_key(keycode: int, available) -> int | None:
    """The skill a key selects among those the policy knows, or None."""
    for _, code, _, skills in KEYS:
        if code == keycode:
            return next((s for s in skills if s in available), None)
    return None


def goal_shift(keycode: int) -> tuple[float, float] | None:
    """The world x/y move (m) a goal key asks for, or None."""
    for _, code, (dx, dy) in GOAL_KEYS:
        if code == keycode:
            return dx * GOAL_STEP, dy * GOAL_STEP
    return None


def key_label(keycode: int) -> str:
    for label, code, *_ in (*KEYS, *GOAL_KEYS, CAMERA_KEY):
        if code == keycode:
            return label
    return chr(keycode) if 32 < keycode < 127 else str(keycode)


def wrap_help(entries: list[str], width_chars: int) -> list[str]:
    """Pack ``entries`` into lines of at most ``width_chars`` (an entry longer than that gets a line
    of its own): one overlay line is not wrapped by MuJoCo and runs off a narrow window."""
    lines: list[str] = []
    for e in entries:
        if lines and len(lines[-1]) + 3 + len(e) <= width_chars:
            lines[-1] += "   " + e
        else:
            lines.append(e)
    return lines


def shortcut_flags(keycodes) -> tuple[list[int], list[int]]:
    """MuJoCo viewer shortcuts among ``keycodes``: (``mjtVisFlag`` ids, ``mjtRndFlag`` ids) they toggle."""
    letters = {chr(c) for c in keycodes if 32 < c < 127}
    vis = [i for i, (_, _, key) in enumerate(mujoco.mjVISSTRING) if key and key in letters]
    rnd = [i for i, (_, _, key) in enumerate(mujoco.mjRNDSTRING) if key and key in letters]
    return vis, rnd
