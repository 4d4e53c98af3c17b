"""End-to-end training with rl-games on the CPU: outputs, resume, checkpoints, learning signal."""

import subprocess
import sys
import time

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from skillmimic.cli import main
from skillmimic.config import load_config
from skillmimic.errors import SkillMimicError
from skillmimic.policy.checkpoint import atomic_save, load_checkpoint

SMALL = ["ppo.units=[64,64]", "ppo.save_frequency=1"]


def _scalars(run_dir, tag):
    acc = EventAccumulator(str(run_dir / "summaries"))
    acc.Reload()
    return [e.value for e in acc.Scalars(tag)] if tag in acc.Tags()["scalars"] else []


@pytest.mark.slow
def test_train_writes_config_events_checkpoint_and_resumes(tmp_path, data_dir, capsys, monkeypatch):
    args = [
        "train",
        "--motion",
        "ballplay-m/layup",
        "--num-envs",
        "4",
        "--epochs",
        "2",
        "--run",
        "e2e",
        f"runs_dir={tmp_path}",
        *SMALL,
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "epoch 1/2" in out and "epoch 2/2" in out and "samples/s" in out and "reward" in out
    run = tmp_path / "e2e"
    cfg = load_config([run / "config.yaml"])
    assert cfg.num_envs == 4 and cfg.motion == "ballplay-m/layup" and cfg.sim.backend == "mujoco"
    for tag in (
        "reward/step_mean",
        "reward_terms/p",
        "reward_terms/cg2",
        "episode/length",
        "resets/diverged",
        "performance/samples_per_s",
    ):
        assert len(_scalars(run, tag)) == 2, tag
    ckpt = load_checkpoint(run / "nn" / "last.pth")
    assert ckpt["epoch"] == 2 and ckpt["skillmimic"]["obs_size"] == 882
    assert ckpt["skillmimic"]["clips"] == [{"name": "031_015pickle_layup_001_001", "skill_id": 31}]
    assert not list(run.glob("nn/.*tmp*"))
    # a second start under the same name is refused, --resume continues
    assert main(args) == 2
    assert "--resume" in capsys.readouterr().err
    loads, real_load = [], torch.load  # every file read on resume (rl-games' restore included) is weights-only

    def spy(*a, **kw):
        loads.append(kw.get("weights_only"))
        return real_load(*a, **kw)

    monkeypatch.setattr(torch, "load", spy)
    time.sleep(1.1)  # tensorboardX names event files by the second: keep the first run's file
    assert main(["train", "--run", "e2e", "--resume", "--epochs", "1", f"runs_dir={tmp_path}"]) == 0
    monkeypatch.undo()
    assert loads and all(w is True for w in loads), loads
    assert "epoch 3/3" in capsys.readouterr().out
    resumed = load_checkpoint(run / "nn" / "last.pth")
    assert resumed["epoch"] == 3 and resumed["frame"] > ckpt["frame"]
    # the weights moved on from the resumed ones, rather than restarting from scratch
    key = next(k for k in ckpt["model"] if k.endswith("mu.weight"))
    assert not torch.equal(ckpt["model"][key], resumed["model"][key])
    assert len(_scalars(run, "reward/step_mean")) == 3


def test_bad_training_input(tmp_path, data_dir, capsys):
    def err(argv):
        assert main(argv) == 2
        e = capsys.readouterr().err.strip()
        assert len(e.splitlines()) == 1, e
        return e

    assert "ppo.learnin_rate" in err(["train", "--motion", "ballplay-m/layup", "ppo.learnin_rate=1"])
    assert "no motion given" in err(["train", "--epochs", "1", f"runs_dir={tmp_path}"])
    assert "not found" in err(["train", "--run", "nope", "--resume", f"runs_dir={tmp_path}"])
    # the device: its name (flag or key), then whether this machine has it (flag, or when the run starts)
    layup = ["train", "--motion", "ballplay-m/layup", "--epochs", "1", f"runs_dir={tmp_path}"]
    assert "expected auto, cpu, cuda or cuda:N" in err([*layup, "--device", "cuda:x"])
    assert "sim.device" in err([*layup, "sim.device=cuda:x"])
    assert "cuda:99: no such CUDA device" in err([*layup, "--device", "cuda:99"])
    assert "'cuda:99': no such CUDA device" in err([*layup, "sim.device=cuda:99"])
    assert "num_minibatches" in err(
        ["train", "--motion", "ballplay-m/layup", "--num-envs", "3", "ppo.horizon_length=5", f"runs_dir={tmp_path}"]
    )


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    bad = tmp_path / "last.pth"
    bad.write_bytes(b"\x80\x02garbage")
    with pytest.raises(Exception, match="cannot read checkpoint"):
        load_checkpoint(bad)
    torch.save({"model": {}}, bad)
    with pytest.raises(Exception, match="not a SkillMimic policy checkpoint"):
        load_checkpoint(bad)


def test_atomic_save_never_leaves_a_torn_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pth"
    atomic_save({"a": torch.ones(3)}, path)

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError):
        atomic_save({"a": torch.zeros(3)}, path)
    monkeypatch.undo()
    assert torch.equal(torch.load(path)["a"], torch.ones(3))


def test_yaml_presets_load():
    big = load_config(["train/skillmimic.yaml"])
    assert big.num_envs == 2048 and big.ppo.learning_rate == 2e-5 and big.ppo.units == [1024, 512, 512]
    assert big.num_envs * big.ppo.horizon_length // big.ppo.num_minibatches == 16384
    shipped = "train/fast.yaml, train/hlc.yaml, train/skillmimic.yaml, train/skillmimic_v2.yaml"
    with pytest.raises(SkillMimicError, match=rf"train/nope.yaml.*presets: {shipped}"):
        load_config(["train/nope.yaml"])


@pytest.mark.slow
def test_learning_signal_on_a_short_clip(tmp_path, data_dir):
    """Seeded CPU run on the pass clip: late epochs score clearly higher than the first ones."""
    # A smaller network, a larger learning rate and more action noise than the upstream defaults,
    # so that ~80k samples (about two minutes here) show the trend.
    cmd = [
        sys.executable,
        "-m",
        "skillmimic",
        "train",
        "--motion",
        "ballplay-m/pass",
        "--num-envs",
        "32",
        "--epochs",
        "80",
        "--run",
        "learn",
        "--seed",
        "1",
        f"runs_dir={tmp_path}",
        "ppo.units=[256,256]",
        "ppo.learning_rate=1e-3",
        "ppo.log_std=-1.6",
        "ppo.save_frequency=100",
    ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=900)
    rewards = _scalars(tmp_path / "learn", "reward/step_mean_by_epoch")
    first, last = sum(rewards[:10]) / 10, sum(rewards[-10:]) / 10
    print(f"\nmean step reward: first 10 epochs {first:.4f}, last 10 epochs {last:.4f}")
    assert len(rewards) == 80 and last > 1.3 * first and last - first > 0.01
