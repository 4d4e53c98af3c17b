"""Every bad input gives a one-line error that names the thing at fault (never a traceback)."""

import shutil

import pytest
import torch

from skillmimic.cli import main


def _error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.fixture
def layup(ballplay):
    return ballplay / "layup" / "031_015pickle_layup_001_001.pt"


def test_truncated_file(tmp_path, layup, capsys):
    bad = tmp_path / "031_truncated.pt"
    bad.write_bytes(layup.read_bytes()[:5000])
    err = _error(capsys, ["data", "inspect", str(bad)])
    assert str(bad) in err and "cannot read" in err


def test_wrong_width(tmp_path, capsys):
    bad = tmp_path / "031_wide.pt"
    torch.save(torch.zeros(50, 409), bad)
    err = _error(capsys, ["data", "inspect", str(bad)])
    assert str(bad) in err and "[T, 337]" in err and "[50, 409]" in err


def test_parahome_file_refused(data_dir, capsys):
    f = next((data_dir / "skillmimic-v2" / "ParaHome").rglob("*.pt"))
    err = _error(capsys, ["data", "inspect", str(f)])
    assert "ParaHome" in err and str(f) in err


def test_nan_frame(tmp_path, layup, capsys):
    x = torch.load(layup, map_location="cpu", weights_only=True)
    x[17, 40] = float("nan")
    bad = tmp_path / "031_nan.pt"
    torch.save(x, bad)
    err = _error(capsys, ["data", "inspect", str(bad)])
    assert str(bad) in err and "frame 17" in err and "column 40" in err and "joint rotations" in err


def test_too_few_frames_and_not_a_tensor(tmp_path, layup, capsys):
    x = torch.load(layup, map_location="cpu", weights_only=True)
    short = tmp_path / "031_short.pt"
    torch.save(x[:2], short)
    assert "has 2 frames" in _error(capsys, ["data", "inspect", str(short)])
    d = tmp_path / "031_dict.pt"
    torch.save({"a": 1}, d)
    assert "found a dict" in _error(capsys, ["data", "inspect", str(d)])


def test_unlabelled_and_unknown_skill(tmp_path, layup, capsys):
    f = tmp_path / "clip.pt"
    shutil.copy(layup, f)
    assert "three-digit skill id" in _error(capsys, ["data", "inspect", str(f)])
    g = tmp_path / "099_clip.pt"
    shutil.copy(layup, g)
    err = _error(capsys, ["data", "inspect", str(g)])
    assert str(g) in err and "unknown skill id 99" in err
    assert "unknown skill 'dunk'" in _error(capsys, ["data", "inspect", str(f), "--skill", "dunk"])
    assert main(["data", "inspect", str(f), "--skill", "layup"]) == 0


def test_empty_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    err = _error(capsys, ["data", "inspect", str(tmp_path / "empty")])
    assert "empty" in err and "no .pt motion files" in err


def test_missing_path(tmp_path, capsys):
    err = _error(capsys, ["data", "inspect", "no-such-set/layup"])
    assert "no-such-set/layup" in err and "not found" in err


def test_unknown_dataset_name(tmp_path, capsys):
    err = _error(capsys, ["data", "fetch", "ballplay-x", "--dest", str(tmp_path)])
    assert "unknown dataset 'ballplay-x'" in err and "ballplay-m" in err
