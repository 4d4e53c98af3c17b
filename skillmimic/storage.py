"""Files of tensors and plain data: written atomically, read without running code.

Checkpoints, trajectory graphs and history encoders all hold only tensors and plain data (dict,
list, tuple, str, int, float, bool, None): ``torch.load(weights_only=True)`` reads them back and
never executes anything from the file.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from pathlib import Path

import numpy as np
import torch

from skillmimic.errors import SkillMimicError


def plain(obj, where: str = "state"):
    """``obj`` with numpy scalars/arrays turned into Python numbers/tensors, checked to hold only
    tensors and plain data (what ``torch.load(weights_only=True)`` reads back)."""
    if obj is None or isinstance(obj, (str, bool, int, float, torch.Tensor)):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(obj.copy())
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, dict):
        return {k: plain(v, f"{where}[{k!r}]") for k, v in obj.items()}
    if isinstance(obj, list) or type(obj) is tuple:
        return type(obj)(plain(v, f"{where}[{i}]") for i, v in enumerate(obj))
    raise TypeError(f"{where}: {type(obj).__name__} cannot be saved in a checkpoint (tensors and plain data only)")


def atomic_save(state: dict, path: str | Path) -> None:
    """Write to a temporary file in the same folder, flush it to disk, then rename over ``path``:
    a crash leaves either the old checkpoint or the new one, never a torn file. ``state`` goes
    through ``plain`` first, so what is written always loads with ``weights_only=True``."""
    state = plain(state)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_dead_writers_files(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _remove_dead_writers_files(path: Path) -> None:
    """Temporary files a killed writer left beside ``path`` (``.NAME.tmpPID`` of a PID that is gone)."""
    for tmp in path.parent.glob(f".{path.name}.tmp*"):
        pid = tmp.name.rsplit(".tmp", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def hold_lock(folder: Path, what: str):
    """Own ``folder`` for this process's lifetime (an ``flock`` on ``folder/.lock``, released by the
    OS when the process ends, however it ends); another holder is a one-line error naming it.
    Returns the open lock file: keep a reference to it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        f = open(folder / ".lock", "a+")
    except OSError as e:  # a path through a file, no permission, a full disk
        raise SkillMimicError(f"{what}: cannot use folder {folder}: {e.strerror or type(e).__name__}") from None
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        holder = f.read().strip() or "another process"
        f.close()
        raise SkillMimicError(f"{what} is in use by {holder}: one process per folder ({folder})") from None
    f.seek(0)
    f.truncate()
    f.write(f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    f.flush()
    return f


def safe_output(path: str | Path, *inputs: str | Path | None, what: str = "output", make_folder: bool = False) -> Path:
    """``path`` checked before any work writes it: not a folder, its folder exists (or, with
    ``make_folder``, is made now: a file of that name would refuse it here), and not one of the files
    the command reads (an input file, or an existing file in an input folder), which it would replace."""
    out = Path(path)
    if out.is_dir():
        raise SkillMimicError(f"{what} {out}: is a folder; expected a file path")
    if make_folder and not out.parent.exists():
        out.parent.mkdir(parents=True)
    if not out.parent.is_dir():
        raise SkillMimicError(f"{what} {out}: folder {out.parent} does not exist")
    for src in inputs:
        if src is None or not out.exists() or not Path(src).exists():
            continue
        source, target = Path(src).resolve(), out.resolve()
        if target == source or (source.is_dir() and target.is_relative_to(source)):
            raise SkillMimicError(f"{what} {out}: is an input of this command (or in its folder); it would be replaced")
    return out


def load_plain(path: str | Path, what: str) -> object:
    """Read a file written by ``atomic_save``; a missing or unreadable file is a one-line error
    naming ``what`` it should have been (e.g. "trajectory graph")."""
    path = Path(path)
    if not path.is_file():
        raise SkillMimicError(f"{what} file not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for foreign or truncated files
        raise SkillMimicError(f"{path}: cannot read as a {what} file: {type(e).__name__}") from None
