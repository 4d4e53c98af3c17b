"""Lazy, pickle-free access to the arrays of a user's ``.npz``: only the keys we need are read, so
an unrelated object array (AMASS files carry some) neither fails the file nor runs code."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from skillmimic.errors import SkillMimicError


class NpzArrays:
    """``key in a`` and ``a[key]`` over an open ``.npz``; an unreadable array is a one-line error."""

    def __init__(self, path: Path, npz):
        self.path, self._npz = path, npz

    def __contains__(self, key: str) -> bool:
        return key in self._npz.files

    def __getitem__(self, key: str) -> np.ndarray:
        try:
            return self._npz[key]
        except Exception as e:  # an object (pickled) array, a truncated member
            raise SkillMimicError(f"{self.path}: cannot read {key!r}: {str(e).splitlines()[0][:120]}") from None


def open_npz(path: Path):
    """``np.load`` of an ``.npz`` without pickles (use as a context manager); a one-line error if unreadable."""
    try:
        npz = np.load(path, allow_pickle=False)
    except Exception as e:
        raise SkillMimicError(f"{path}: cannot read as .npz/.npy: {str(e).splitlines()[0][:160]}") from None
    return npz
