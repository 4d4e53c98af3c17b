"""SkillMimic: learn human-object interaction skills from motion capture in physics simulation."""

__version__ = "0.1.0"
