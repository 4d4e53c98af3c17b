"""SkillMimic-V2 history encoder: windows, dataset split, short training, file format, cache, CLI."""

import logging
import shutil

import pytest
import torch

from skillmimic.cli import main
from skillmimic.envs.history import FRAME_SIZE, WINDOW, frame_state, history_windows
from skillmimic.envs.history_encoder import (
    EMBED,
    HistoryEncoder,
    encoder_from_state,
    encoder_state,
    load_encoder,
    save_encoder,
)
from skillmimic.errors import SkillMimicError
from skillmimic.learning.history_encoder import (
    NextStatePredictor,
    history_dataset,
    history_key,
    load_or_train,
    train_history_encoder,
)
from skillmimic.motion import MotionLibrary

LAYUP, RUN = "layup/031_015pickle_layup_001_001.pt", "run/013_018pickle_pick2run_3.pt"  # 161 and 131 frames
MISSING = (20, 21)  # frames of the run clip zeroed on disk: loaded as missing frames


@pytest.fixture(scope="module")
def motion(tmp_path_factory, ballplay):
    """A folder: the layup clip, then the run clip with two all-zero rows."""
    root = tmp_path_factory.mktemp("hist") / "two"
    for rel in (LAYUP, RUN):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ballplay / rel, root / rel)
    data = torch.load(root / RUN, map_location="cpu", weights_only=True)
    data[list(MISSING)] = 0
    torch.save(data, root / RUN)
    return root


@pytest.fixture(scope="module")
def lib(motion):
    lib = MotionLibrary.load(motion)
    assert lib.names == ["031_015pickle_layup_001_001", "013_018pickle_pick2run_3"]
    assert (~lib.valid).nonzero().flatten().tolist() == [int(lib.starts[1]) + f for f in MISSING]
    return lib


def _reference(lib, clip: int, frames: list[int]) -> torch.Tensor:
    s = lib.get(torch.full((len(frames),), clip), torch.tensor(frames))
    return frame_state(s.body_pos, s.root_rot, s.dof_pos, s.ball_pos, lib.skill_ids[[clip] * len(frames)])


def test_shapes():
    enc, h = HistoryEncoder(), torch.randn(5, WINDOW, FRAME_SIZE)
    assert enc(h).shape == (5, EMBED)
    cur, skill = torch.randn(5, FRAME_SIZE), torch.zeros(5, 64)
    for use in (True, False):
        assert NextStatePredictor(use)(h, cur, skill).shape == (5, FRAME_SIZE)
    no = NextStatePredictor(False)
    assert torch.equal(no(h, cur, skill), no(torch.randn_like(h), cur, skill))  # really ignores history


def test_windows_are_the_frames_before(lib):
    start = int(lib.starts[1])
    rows = torch.tensor([100, start + 90, start + 10, start, start + MISSING[1] + 5])
    w = history_windows(lib, rows)
    assert w.shape == (5, WINDOW, FRAME_SIZE)
    assert torch.allclose(w[0], _reference(lib, 0, list(range(40, 100))), atol=1e-6)
    assert torch.allclose(w[1], _reference(lib, 1, list(range(30, 90))), atol=1e-6)
    # frame 10 of the run clip: 50 zero rows, never the layup's last frames, then its frames 0..9
    assert (w[2, :50] == 0).all() and torch.allclose(w[2, 50:], _reference(lib, 1, list(range(10))), atol=1e-6)
    assert (w[3] == 0).all()
    # frame 26: frames 0..25 at the end of the window, the two missing ones as zero rows
    tail = w[4, WINDOW - 26 :]
    assert (w[4, : WINDOW - 26] == 0).all()
    zero = (tail == 0).all(dim=1).nonzero().flatten().tolist()
    assert zero == list(MISSING)
    ok = [f for f in range(26) if f not in MISSING]
    assert torch.allclose(tail[ok], _reference(lib, 1, ok), atol=1e-6)
    assert (tail[ok] != 0).any(dim=1).all()


def test_dataset_split_and_duplicates(lib, motion, tmp_path):
    d = history_dataset(lib)
    start = int(lib.starts[1])
    # current and next valid, next in the same clip: 160 + 130 - 3 (missing 20, 21 and the 19 -> 20 step)
    assert len(d) == 160 + 127
    bad = {160, start + 19, start + 20, start + 21, start + 130}
    assert not bad & set(d.rows.tolist())
    for c in (0, 1):  # one contiguous block per clip, ~10 %
        v = d.val[lib.frame_clip[d.rows] == c].nonzero().flatten()
        assert 12 <= len(v) <= 16 and (v.diff() == 1).all()
    assert history_dataset(lib, seed=1).val.tolist() != d.val.tolist()
    assert history_dataset(lib, split="random").val.float().mean() < 0.2
    copy = tmp_path / "copy"
    shutil.copytree(motion, copy / "a")
    shutil.copytree(motion, copy / "b")
    twice = MotionLibrary.load(copy)
    assert twice.num_clips == 4 and len(history_dataset(twice)) == len(d)  # identical clips used once


def test_short_training_lowers_the_loss(lib):
    enc, m = train_history_encoder(lib, epochs=3, progress=False)
    assert isinstance(enc, HistoryEncoder) and not enc.training
    assert m["train_loss_last"] < m["train_loss_first"]
    assert m["epochs"] == 3 and m["train_samples"] + m["val_samples"] == 287
    for k in ("val_mse", "val_mse_no_history", "val_mse_next_equals_current", "train_mse", "seconds"):
        assert m[k] > 0 and m[k] == m[k], k
    # the standardisation travels with the encoder: raw frames in
    frames = history_windows(lib, torch.arange(lib.num_frames))
    mean = frames[(frames != 0).any(-1)].mean(0)
    assert not torch.allclose(enc.mean, torch.zeros_like(enc.mean)) and torch.allclose(enc.mean, mean, atol=0.2)


def test_file_round_trip_and_refusal(tmp_path, lib):
    torch.manual_seed(1)
    enc = HistoryEncoder()
    enc.mean.uniform_()
    path = tmp_path / "h.pt"
    save_encoder(path, enc, {"val_mse": 0.5, "epochs": 3}, "abc")
    assert list(tmp_path.iterdir()) == [path]
    back = load_encoder(path)
    for (k, a), (k2, b) in zip(enc.state_dict().items(), back.state_dict().items(), strict=True):
        assert k == k2 and torch.equal(a, b)
    h = history_windows(lib, torch.tensor([100, 200]))
    assert torch.equal(enc.eval()(h), back(h))
    raw = torch.load(path, weights_only=True)
    assert raw["key"] == "abc" and raw["metrics"] == {"val_mse": 0.5, "epochs": 3} and raw["window"] == WINDOW
    assert torch.equal(encoder_from_state(encoder_state(enc)).out.weight, enc.out.weight)

    foreign = tmp_path / "foreign.pt"
    torch.save({"a": 1}, foreign)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a torch file")
    wrong = tmp_path / "wrong.pt"
    torch.save(dict(raw, window=30), wrong)
    for p, words in ((foreign, "not a history encoder"), (garbage, "cannot read"), (wrong, "window")):
        with pytest.raises(SkillMimicError) as e:
            load_encoder(p)
        assert "\n" not in str(e.value) and str(p) in str(e.value) and words in str(e.value)
    with pytest.raises(SkillMimicError, match="not found"):
        load_encoder(tmp_path / "none.pt")


def test_load_or_train_caches(tmp_path, lib, caplog):
    caplog.set_level(logging.INFO, logger="skillmimic")
    key = history_key(lib, epochs=1)
    assert key != history_key(lib) and key != history_key(lib, epochs=1, seed=1) and len(key) == 16
    a = load_or_train(lib, tmp_path, epochs=1)
    assert "trained history encoder" in caplog.text
    assert list(tmp_path.iterdir()) == [tmp_path / f"hist-{key}.pt"]
    caplog.clear()
    b = load_or_train(lib, tmp_path, epochs=1)
    assert [r.getMessage() for r in caplog.records] == [f"history encoder: {tmp_path / f'hist-{key}.pt'}"]
    assert torch.equal(a.out.weight, b.out.weight)


def test_cli(tmp_path, motion, capsys):
    out = tmp_path / "h.pt"
    assert main(["hist", "train", "--motion", str(motion), "--epochs", "1", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert str(out) in text and "no history" in text and "next = current" in text
    assert load_encoder(out).embed == EMBED
    assert main(["hist", "train", "--motion", str(motion), "--epochs", "0", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "epochs" in err
