"""Fetch a known dataset into the data root, verifying every file against a checksum manifest.

Files are downloaded from the upstream repository, or copied from a local mirror with
``source``; each is written to a temporary name and renamed once its SHA-256 matches, so an
interrupted fetch never leaves a half-written clip behind. Files already present and intact
are kept.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import urllib.request
from importlib import resources
from pathlib import Path

from tqdm import tqdm

from skillmimic.errors import SkillMimicError

log = logging.getLogger(__name__)


def known_datasets() -> list[str]:
    folder = resources.files("skillmimic.motion") / "manifests"
    return sorted(p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json"))


def manifest(name: str) -> dict:
    if name not in known_datasets():
        raise SkillMimicError(f"unknown dataset {name!r}; known datasets: {', '.join(known_datasets())}")
    return json.loads((resources.files("skillmimic.motion") / "manifests" / f"{name}.json").read_text())


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch(name: str, dest_root: Path, source: Path | None = None, base_url: str | None = None) -> Path:
    """Bring dataset ``name`` to ``dest_root / name``; returns that folder.

    ``source`` is a local folder laid out like the dataset (a mirror); otherwise files come
    from ``base_url`` (default: the manifest's upstream address).
    """
    man = manifest(name)
    dest = dest_root / name
    if source is not None and not Path(source).is_dir():
        raise SkillMimicError(f"--from {source}: not a folder")
    if dest_root.exists() and not dest_root.is_dir():
        raise SkillMimicError(f"--dest {dest_root}: a file, not a folder to fetch into")
    base = (base_url or man["base_url"]).rstrip("/")
    dest.mkdir(parents=True, exist_ok=True)
    fetched = kept = 0
    for entry in tqdm(man["files"], desc=f"fetch {name}", unit="file"):
        target = dest / entry["path"]
        if target.is_file() and _sha256(target) == entry["sha256"]:
            kept += 1
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        origin = str(Path(source) / entry["path"]) if source is not None else f"{base}/{entry['path']}"
        try:
            if source is not None:
                shutil.copyfile(origin, tmp)
            else:
                with urllib.request.urlopen(origin, timeout=60) as r, open(tmp, "wb") as f:
                    shutil.copyfileobj(r, f)
        except OSError as e:  # URLError is an OSError too
            tmp.unlink(missing_ok=True)
            raise SkillMimicError(f"fetch {name}: cannot get {origin}: {getattr(e, 'reason', None) or e}") from None
        digest = _sha256(tmp)
        if digest != entry["sha256"]:
            tmp.unlink()
            raise SkillMimicError(
                f"fetch {name}: checksum mismatch for {origin} "
                f"(expected sha256 {entry['sha256'][:12]}..., got {digest[:12]}...)"
            )
        os.replace(tmp, target)
        fetched += 1
    (dest / "SOURCE.txt").write_text(f"{man['description']}\nsource: {man['source']}\nlicense: {man['license']}\n")
    log.info("%s: %d fetched, %d already present -> %s", name, fetched, kept, dest)
    return dest
