"""Shared fixtures. Real data comes from $SKILLMIMIC_DATA (``.ci/run`` points it at the shared set).

Markers (``pytest.ini``): ``slow`` by hand, on tests that take more than ~1.5 s on the 2-core dev box;
``needs_data`` on every test that reaches the data through a fixture (here) or names a dataset (by hand).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from skillmimic.process import configure_process

configure_process()  # as the command does, before torch and MuJoCo load (offscreen rendering: EGL)

import pytest  # noqa: E402
import torch  # noqa: E402

from skillmimic.motion.datasets import data_root  # noqa: E402

DATA_FIXTURES = {"data_dir", "ballplay", "library", "trained", "dribble_llc"}


def pytest_configure(config):
    torch.set_num_threads(2)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if DATA_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.needs_data)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    root = data_root()
    if not (root / "ballplay-m").is_dir():
        pytest.fail(
            f"BallPlay-M not found under {root.resolve()}: set SKILLMIMIC_DATA to the data root "
            "or run `skillmimic data fetch ballplay-m`"
        )
    return root


@pytest.fixture(scope="session")
def ballplay(data_dir) -> Path:
    return data_dir / "ballplay-m"


@pytest.fixture(scope="session")
def library(ballplay):
    from skillmimic.motion import MotionLibrary

    return MotionLibrary.load(ballplay)


CLIPS = ("layup/031_015pickle_layup_001_001.pt", "lrun/011_018pickle_lrun_1.pt", "pass/004_016pickle_pass_001.pt")


@pytest.fixture(scope="session")
def trained(tmp_path_factory, ballplay):
    """A three-skill motion folder and a checkpoint from a one-epoch run on it (``<root>/p/nn/last.pth``,
    next to the run's ``<root>/p/config.yaml``); shared by the eval/play and export tests."""
    from skillmimic.cli import main

    root = tmp_path_factory.mktemp("evalplay")
    motion = root / "three"
    for rel in CLIPS:
        (motion / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ballplay / rel, motion / rel)
    assert (
        main(
            [
                "train",
                "--motion",
                str(motion),
                "--num-envs",
                "4",
                "--epochs",
                "1",
                "--run",
                "p",
                f"runs_dir={root}",
                "ppo.units=[64,64]",
            ]
        )
        == 0
    )
    return motion, root / "p" / "nn" / "last.pth"


@pytest.fixture(scope="session")
def dribble_llc(ballplay, tmp_path_factory):
    """A tiny skill policy (one epoch) on one clip each of dribble left, right and forward: the
    heading task's skills. Returns (motion folder, checkpoint)."""
    from skillmimic.cli import main

    root = tmp_path_factory.mktemp("llc")
    motion = root / "dribble"
    for rel in ("lrun/011_018pickle_lrun_1.pt", "rrun/012_018pickle_pick2rrun_2.pt", "run/013_018pickle_run_3.pt"):
        (motion / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ballplay / rel, motion / rel)
    args = ["train", "--motion", str(motion), "--num-envs", "4", "--epochs", "1", "--run", "llc"]
    assert main([*args, f"runs_dir={root}", "ppo.units=[64,64]"]) == 0
    return motion, root / "llc" / "nn" / "last.pth"
