"""Shared fixtures. Real data comes from $SKILLMIMIC_DATA (``.ci/run`` points it at the shared set)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from skillmimic.motion.datasets import data_root


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: longer tests (real training or many simulation steps); CI runs them")
    torch.set_num_threads(2)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    root = data_root()
    if not (root / "ballplay-m").is_dir():
        pytest.fail(f"BallPlay-M not found under {root.resolve()}: set SKILLMIMIC_DATA to the data root "
                    "or run `skillmimic data fetch ballplay-m`")
    return root


@pytest.fixture(scope="session")
def ballplay(data_dir) -> Path:
    return data_dir / "ballplay-m"


@pytest.fixture(scope="session")
def library(ballplay):
    from skillmimic.motion import MotionLibrary

    return MotionLibrary.load(ballplay)
