"""Where motion data lives and how a motion argument is resolved.

The data root is ``$SKILLMIMIC_DATA`` if set, else ``./motions``. A motion argument is either
a path (file or folder) or a name relative to the data root such as ``ballplay-m/layup``.
"""

from __future__ import annotations

import os
from pathlib import Path

from skillmimic.errors import SkillMimicError

DATA_ENV = "SKILLMIMIC_DATA"


def data_root() -> Path:
    return Path(os.environ.get(DATA_ENV) or "motions")


def resolve_motion(arg: str | Path) -> Path:
    """A motion argument -> an existing file or folder, or a one-line error saying where we looked."""
    p = Path(arg)
    if p.exists():
        return p
    root = data_root()
    q = root / p
    if not p.is_absolute() and q.exists():
        return q
    known = sorted(d.name for d in root.iterdir() if d.is_dir()) if root.is_dir() else []
    where = (
        f"data root {root} has: {', '.join(known)}"
        if known
        else f"data root {root} is empty or missing (set {DATA_ENV} or run `skillmimic data fetch ballplay-m`)"
    )
    raise SkillMimicError(f"motion {str(arg)!r} not found: not a path, and not under the data root ({where})")


def motion_files(path: Path) -> list[Path]:
    """Clip files of a motion argument, in library order: sorted by their path relative to it.
    Symlinked folders and files count (a motion folder assembled from links to skill folders); a
    link back up the tree is walked once."""
    if path.is_file():
        return [path]
    files, seen = [], set()
    for folder, subfolders, names in os.walk(path, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:  # a link cycle: this folder's contents are listed already
            subfolders.clear()
            continue
        seen.add(real)
        files += [Path(folder) / n for n in names if n.endswith(".pt") and (Path(folder) / n).is_file()]
    files.sort(key=lambda f: f.relative_to(path).as_posix())
    if not files:
        raise SkillMimicError(f"{path}: folder contains no .pt motion files")
    return files
