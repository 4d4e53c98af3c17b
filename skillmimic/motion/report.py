"""A summary of the clips of a motion argument (``skillmimic data inspect``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from skillmimic.motion.ballplay import read_ballplay
from skillmimic.motion.datasets import motion_files, resolve_motion


def inspect_motion(motion: str | Path, skill: int | None = None) -> dict:
    """Per clip: file, skill id and name, frames, missing frames, fps, seconds (library order); and totals."""
    root = resolve_motion(motion)
    clips: list[dict[str, Any]] = []
    for f in motion_files(root):
        c = read_ballplay(f, skill)
        clips.append(
            dict(
                id=len(clips),
                file=str(f),
                skill_id=c.skill_id,
                skill=c.skill_name,
                frames=c.num_frames,
                missing=c.num_missing,
                fps=c.fps,
                seconds=round(c.seconds, 3),
            )
        )
    skills = sorted({(c["skill_id"], c["skill"]) for c in clips})
    return dict(
        motion=str(root),
        clips=clips,
        totals=dict(
            clips=len(clips),
            frames=sum(c["frames"] for c in clips),
            missing=sum(c["missing"] for c in clips),
            seconds=round(sum(c["seconds"] for c in clips), 3),
            skills={f"{i:03d}": n for i, n in skills},
        ),
    )


def format_report(rep: dict) -> str:
    root = Path(rep["motion"])
    lines = [f"{'id':>4}  {'skill':<26}  {'frames':>6} {'missing':>7} {'fps':>5} {'seconds':>8}  file"]
    for c in rep["clips"]:
        rel = Path(c["file"]).relative_to(root) if root.is_dir() else Path(c["file"]).name
        lines.append(
            f"{c['id']:>4}  {c['skill_id']:03d} {c['skill']:<22} {c['frames']:>6} {c['missing']:>7} {c['fps']:>5.0f} "
            f"{c['seconds']:>8.2f}  {rel}"
        )
    t = rep["totals"]
    lines.append(
        f"total: {t['clips']} clips, {t['frames']} frames ({t['missing']} missing), {t['seconds']:.1f} s, "
        f"{len(t['skills'])} skills"
    )
    return "\n".join(lines)
