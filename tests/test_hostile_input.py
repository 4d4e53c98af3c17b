"""Hostile and careless input, fuzzed over every kind of file and number the commands take: each case
must end in exit code 2 with one ``skillmimic: error:`` line naming what was wrong, no traceback, no
code run from a file (a payload would create a marker), every input file unchanged, within a bound.

A case is one row of ``CASES``: an id, a class, and a function of a ``Kit`` (paths to a trained run,
its clips, scratch space) that builds its files and returns ``(argv, expected words)``. Add a row.
"""

from __future__ import annotations

import hashlib
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from skillmimic.cli import main
from skillmimic.policy.checkpoint import load_checkpoint
from skillmimic.storage import atomic_save

SECONDS = 60  # the most any case may take: bad input is refused before any work


@dataclass
class Kit:
    ckpt: Path  # a trained run's last.pth (runs_dir/p/nn/last.pth)
    motion: Path  # its clips
    tmp: Path
    marker: Path  # a payload creates this when code from a file runs

    @property
    def runs_dir(self) -> Path:
        """The runs folder holding the trained run ``p``."""
        return self.ckpt.parents[2]

    def broken(self, edit) -> Path:
        """A copy of the checkpoint with ``edit(state)`` applied."""
        state = load_checkpoint(self.ckpt)
        edit(state)
        out = self.tmp / "broken.pth"
        torch.save(state, out)
        return out


class _Payload:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _eval(k: Kit, ckpt, *extra):
    return ["eval", "--checkpoint", str(ckpt), "--motion", str(k.motion), "--episodes", "1", "--steps", "5", *extra]


def _pickled_checkpoint(k: Kit):
    state = load_checkpoint(k.ckpt)
    state["skillmimic"]["evil"] = _Payload(k.marker)
    torch.save(state, k.tmp / "evil.pth")
    return _eval(k, k.tmp / "evil.pth"), "refusing to load"


def _nan_weights(k: Kit):
    def edit(s):
        w = next(v for v in s["model"].values() if v.is_floating_point() and v.numel() > 1)
        w.view(-1)[0] = math.nan

    return ["export-policy", "--checkpoint", str(k.broken(edit)), "--out", str(k.tmp / "x.pth")], "NaN"


def _graph_file(k: Kit, edit) -> Path:
    """A graph file of the kit's clips with ``edit(data)`` applied, written as ``graph build`` would."""
    from skillmimic.graph import build_graph
    from skillmimic.motion.library import MotionLibrary

    g = build_graph(MotionLibrary.load(k.motion))
    g.save(k.tmp / "g.pt")
    data = torch.load(k.tmp / "g.pt", weights_only=True)
    edit(data)
    atomic_save(data, k.tmp / "g.pt")
    return k.tmp / "g.pt"


def _huge_clip(k: Kit):
    clip = next(k.motion.rglob("*.pt"))
    data = torch.load(clip, weights_only=True, map_location="cpu")
    data[:, :3] *= 1e30
    (k.tmp / "huge").mkdir()
    torch.save(data, k.tmp / "huge" / clip.name)
    return ["train", "--motion", str(k.tmp / "huge"), "--epochs", "1"], "beyond"


def _best_only(k: Kit):
    """A run whose only checkpoint is best.pth: a new run of that name must not replace it."""
    root = k.tmp / "runs"
    (root / "b" / "nn").mkdir(parents=True)
    shutil.copy(k.ckpt, root / "b" / "nn" / "best.pth")
    return ["train", "--motion", str(k.motion), "--run", "b", "--epochs", "1", f"runs_dir={root}"], "--resume"


def _broken_run(k: Kit) -> Path:
    root = k.tmp / "runs"
    (root / "q" / "nn").mkdir(parents=True)
    shutil.copy(k.ckpt, root / "q" / "nn" / "last.pth")
    (root / "q" / "config.yaml").write_text("just a string\n")
    return root


CASES = [
    # code execution
    ("pickled checkpoint", "code", _pickled_checkpoint),
    # malformed checkpoints
    ("model not a dict", "checkpoint", lambda k: (_eval(k, k.broken(lambda s: s.update(model=[1, 2]))), "'model'")),
    ("no model", "checkpoint", lambda k: (_eval(k, k.broken(lambda s: s.pop("model"))), "'model'")),
    ("no config", "checkpoint", lambda k: (_eval(k, k.broken(lambda s: s["skillmimic"].pop("config"))), "config")),
    ("epoch not a count", "checkpoint", lambda k: (_eval(k, k.broken(lambda s: s.update(epoch="x"))), "'epoch'")),
    ("NaN weights", "checkpoint", _nan_weights),
    ("empty file", "checkpoint", lambda k: ((k.tmp / "e.pth").write_bytes(b"") or _eval(k, k.tmp / "e.pth"), "e.pth")),
    # numbers on the command line
    ("eval --steps 0", "number", lambda k: (_eval(k, k.ckpt, "--steps", "0"), "--steps")),
    ("eval --episodes -2", "number", lambda k: (_eval(k, k.ckpt, "--episodes", "-2"), "--episodes")),
    ("eval --seed -1", "number", lambda k: (_eval(k, k.ckpt, "--seed", "-1"), "--seed")),
    (
        "play --seconds nan",
        "number",
        lambda k: (["play", "--checkpoint", str(k.ckpt), "--seconds", "nan"], "--seconds"),
    ),
    (
        "play --seconds inf",
        "number",
        lambda k: (["play", "--checkpoint", str(k.ckpt), "--seconds", "inf"], "--seconds"),
    ),
    ("play --width -5", "number", lambda k: (["play", "--checkpoint", str(k.ckpt), "--width", "-5"], "--width")),
    (
        "export --seconds 0",
        "number",
        lambda k: (["export", "--checkpoint", str(k.ckpt), "--seconds", "0"], "--seconds"),
    ),
    ("bench --steps -1", "number", lambda k: (["bench", "sim", "--steps", "-1"], "--steps")),
    ("train --num-envs 0", "number", lambda k: (["train", "--motion", str(k.motion), "--num-envs", "0"], "--num-envs")),
    # numbers in the config
    *[
        (f"train {o}", "config", lambda k, o=o, key=key: (["train", "--motion", str(k.motion), o], key))
        for o, key in (
            ("ppo.mini_epochs=0", "ppo.mini_epochs"),
            ("ppo.learning_rate=-1", "ppo.learning_rate"),
            ("ppo.learning_rate=nan", "ppo.learning_rate"),
            ("ppo.num_minibatches=0", "num_minibatches"),
            ("ppo.gamma=nan", "ppo.gamma"),
            ("ppo.units=[]", "ppo.units"),
            ("sim.nconmax=0", "sim.nconmax"),
            ("sim.threads=-5", "sim.threads"),
            ("seed=-1", "seed"),
            ("runs_dir=${oc.env:SKILLMIMIC_NO_SUCH_VARIABLE}", "runs_dir"),
            ("ppo.no_such_key=1", "no_such_key"),
        )
    ],
    # memory
    (
        "train --num-envs 10**12",
        "memory",
        lambda k: (["train", "--motion", str(k.motion), "--num-envs", str(10**12)], "GiB"),
    ),
    # outputs
    ("eval --json onto its checkpoint", "output", lambda k: (_eval(k, k.ckpt, "--json", str(k.ckpt)), "input")),
    ("eval --json a folder", "output", lambda k: (_eval(k, k.ckpt, "--json", str(k.tmp)), "folder")),
    (
        "eval --json in a missing folder",
        "output",
        lambda k: (_eval(k, k.ckpt, "--json", str(k.tmp / "no" / "r.json")), "does not exist"),
    ),
    (
        "graph build --out onto a clip",
        "output",
        lambda k: (["graph", "build", "--motion", str(k.motion), "--out", str(next(k.motion.rglob("*.pt")))], "input"),
    ),
    (
        "export-policy --out a folder",
        "output",
        lambda k: (["export-policy", "--checkpoint", str(k.ckpt), "--out", str(k.tmp)], "folder"),
    ),
    ("play --video x.txt", "output", lambda k: (["play", "--checkpoint", str(k.ckpt), "--video", "x.txt"], ".mp4")),
    ("data fetch --dest FILE", "output", lambda k: (["data", "fetch", "ballplay-m", "--dest", str(k.ckpt)], "--dest")),
    # devices, addresses
    ("eval --device tpu", "device", lambda k: (_eval(k, k.ckpt, "--device", "tpu"), "--device")),
    (
        "graph build --device cuda:7",
        "device",
        lambda k: (["graph", "build", "--motion", str(k.motion), "--device", "cuda:7"], "cuda:7"),
    ),
    ("data fetch --url notaurl", "device", lambda k: (["data", "fetch", "ballplay-m", "--url", "notaurl"], "--url")),
    # clips and graph files
    ("a clip with a root 1e30 m away", "clip", _huge_clip),
    (
        "graph with an edge to clip 99",
        "clip",
        lambda k: (["graph", "inspect", str(_graph_file(k, lambda d: d["dst_clip"].fill_(99)))], "dst_clip"),
    ),
    (
        "graph whose sim is a list",
        "clip",
        lambda k: (["graph", "inspect", str(_graph_file(k, lambda d: d.update(sim=[1.0])))], "tensors"),
    ),
    ("eval --episodes 0", "number", lambda k: (_eval(k, k.ckpt, "--episodes", "0"), "--episodes")),
    # runs
    ("train over a run with only best.pth", "run", _best_only),
    (
        "runs_dir is a file",
        "run",
        lambda k: (["train", "--motion", str(k.motion), "--epochs", "1", f"runs_dir={k.ckpt}"], "cannot use folder"),
    ),
    ("train --run ../x", "run", lambda k: (["train", "--motion", str(k.motion), "--run", "../x"], "plain folder name")),
    (
        "train --run /abs",
        "run",
        lambda k: (["train", "--motion", str(k.motion), "--run", str(k.tmp / "abs")], "plain folder name"),
    ),
    (
        "resume --motion other",
        "run",
        lambda k: (
            ["train", "--run", "p", "--resume", "--motion", str(k.tmp), f"runs_dir={k.runs_dir}"],
            "own clips",
        ),
    ),
    (
        "resume with another network",
        "run",
        lambda k: (
            ["train", "--run", "p", "--resume", "--epochs", "1", "ppo.units=[8]", f"runs_dir={k.runs_dir}"],
            "does not fit",
        ),
    ),
    (
        "resume a broken config.yaml",
        "run",
        lambda k: (["train", "--run", "q", "--resume", f"runs_dir={_broken_run(k)}"], "config"),
    ),
]


def _digest(root: Path) -> dict[str, str]:
    """Hashes of the files under ``root`` (not the run lock: it names its latest holder)."""
    files = [p for p in sorted(root.rglob("*")) if p.is_file() and p.name != ".lock"]
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


@pytest.fixture(scope="module")
def kit_root(trained, tmp_path_factory):
    motion, ckpt = trained
    root = tmp_path_factory.mktemp("hostile")
    shutil.copytree(ckpt.parent.parent, root / "p")  # a run and clips of our own: cases try to damage them
    shutil.copytree(motion, root / "clips")
    return root / "clips", root / "p" / "nn" / "last.pth"


@pytest.mark.parametrize("name,kind,case", CASES, ids=[c[0] for c in CASES])
def test_hostile_input_is_one_line_and_harmless(name, kind, case, kit_root, tmp_path, capsys, monkeypatch):
    motion, ckpt = kit_root
    monkeypatch.chdir(tmp_path)
    k = Kit(ckpt=ckpt, motion=motion, tmp=tmp_path, marker=tmp_path / "pwned")
    argv, words = case(k)
    guarded = {**_digest(ckpt.parent.parent), **_digest(motion)}
    t0 = time.monotonic()
    code = main(argv)
    took = time.monotonic() - t0
    out, err = capsys.readouterr()
    assert code == 2, f"{name}: exit {code}\n{out[-1500:]}\n{err[-1500:]}"
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("skillmimic: error:") and "Traceback" not in err, err
    assert words in lines[0], lines[0]
    assert not k.marker.exists(), "code from a file ran"
    after = {**_digest(ckpt.parent.parent), **_digest(motion)}
    changed = sorted(f for f in guarded if after.get(f) != guarded[f])
    assert not changed, f"inputs changed or went missing: {changed}"
    assert took < SECONDS


def test_cases_cover_every_class():
    kinds = {c[1] for c in CASES}
    assert kinds == {"code", "checkpoint", "number", "config", "memory", "output", "device", "clip", "run"}


def test_a_second_trainer_of_one_run_is_refused(tmp_path):
    """The run folder belongs to one training process (a lock held for its lifetime)."""
    from skillmimic.errors import SkillMimicError
    from skillmimic.storage import hold_lock

    held = hold_lock(tmp_path / "run", "run 'a'")
    with pytest.raises(SkillMimicError, match=r"run 'a' is in use by pid \d+"):
        hold_lock(tmp_path / "run", "run 'a'")
    held.close()
    hold_lock(tmp_path / "run", "run 'a'").close()  # free again once its holder is gone


def test_a_killed_writers_temp_file_is_removed_by_the_next_save(tmp_path):
    dead = tmp_path / ".last.pth.tmp999999999"  # no such process
    dead.write_bytes(b"half a checkpoint")
    atomic_save({"x": torch.zeros(2)}, tmp_path / "last.pth")
    assert not dead.exists() and (tmp_path / "last.pth").is_file()
