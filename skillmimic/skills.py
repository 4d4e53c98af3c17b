"""The skill table: the one place that maps skill ids to names.

A clip's skill id is the integer formed by the first three characters of its file name
(``031_...pt`` is a layup); the policy sees it as a one-hot of size ``NUM_SKILL_SLOTS``.
The names follow the BallPlay folders and SkillMimic-V2 additions.
"""

from __future__ import annotations

from skillmimic.errors import SkillMimicError

NUM_SKILL_SLOTS = 64  # size of the skill one-hot in the observation (upstream condition_size)

SKILLS: dict[int, str] = {
    0: "getup",
    1: "pickup",
    2: "rebound",
    3: "catch",
    4: "pass",
    5: "shot_style1",
    6: "shot_style2",
    7: "shot_style3",
    9: "shot",
    10: "run_no_ball",
    11: "dribble_left",
    12: "dribble_right",
    13: "dribble_forward",
    16: "chest_pass",
    22: "jump_shot",
    23: "turn_hook",
    31: "layup",
    34: "turnaround_layup",
    40: "right_turn_to_left_hand",
    41: "back_dribble",
    42: "turnover",
    43: "leg_turn",
    44: "between_legs_style1",
    45: "between_legs_style2",
}


def skill_name(skill_id: int) -> str:
    """Name of a skill id; unknown ids are an error that lists the table."""
    if skill_id not in SKILLS:
        known = ", ".join(f"{k:03d}={v}" for k, v in sorted(SKILLS.items()))
        raise SkillMimicError(f"unknown skill id {skill_id}; known skills: {known}")
    return SKILLS[skill_id]


def skill_id(name_or_id: str | int) -> int:
    """Parse a skill given as an id (``31``, ``"031"``) or a name (``"layup"``)."""
    if isinstance(name_or_id, int) or str(name_or_id).strip().isdigit():
        sid = int(name_or_id)
        skill_name(sid)
        return sid
    by_name = {v: k for k, v in SKILLS.items()}
    if name_or_id not in by_name:
        raise SkillMimicError(f"unknown skill {name_or_id!r}; known names: {', '.join(sorted(by_name))}")
    return by_name[name_or_id]


def skill_id_from_filename(stem: str) -> int | None:
    """Skill id from the first three characters of a file name, or None if they are not digits."""
    prefix = stem[:3]
    return int(prefix) if len(prefix) == 3 and prefix.isdigit() else None
