"""Time-boxed training (``--minutes``) and the fast preset's options."""

import math
import time

import pytest

from skillmimic.cli import main
from skillmimic.config import load_config
from skillmimic.errors import SkillMimicError
from skillmimic.motion import MotionLibrary
from skillmimic.policy.checkpoint import load_checkpoint

SMALL = ["ppo.units=[64,64]"]


@pytest.mark.slow
def test_minutes_stops_cleanly_saves_and_summarises(tmp_path, data_dir, capsys):
    t0 = time.monotonic()
    assert (
        main(
            [
                "train",
                "--motion",
                "ballplay-m/layup",
                "--num-envs",
                "4",
                "--minutes",
                "0.05",
                "--run",
                "m",
                f"runs_dir={tmp_path}",
                "ppo.horizon_length=4",
                *SMALL,
            ]
        )
        == 0
    )
    wall = time.monotonic() - t0
    out = capsys.readouterr().out
    ckpt = load_checkpoint(tmp_path / "m" / "nn" / "last.pth")
    epochs = int(ckpt["epoch"])
    assert 1 <= epochs < 10**6 and wall < 120  # the clock, not the (unbounded) epoch count, ended it
    assert f"epoch {epochs} " in out and "/1000000000" not in out
    assert "stopped after" in out and "samples" in out and str(tmp_path / "m" / "nn" / "last.pth") in out
    # resuming does not inherit the time limit
    assert main(["train", "--run", "m", "--resume", "--epochs", "1", f"runs_dir={tmp_path}"]) == 0
    assert int(load_checkpoint(tmp_path / "m" / "nn" / "last.pth")["epoch"]) == epochs + 1


def test_fast_preset_loads_and_mean_pose_initialises_the_action_bias(tmp_path, ballplay):
    cfg = load_config(["train/fast.yaml"])
    assert cfg.ppo.mu_init == "mean_pose" and cfg.env.termination_distance > 0 and cfg.env.fingers == "skill_pose"
    assert cfg.env.ball_termination_distance > 0 and cfg.scene.ball_touch_distance > 0
    assert cfg.scene.ball_body_solref == (-8000.0, -180.0) and load_config([]).scene.ball_body_solref is None
    for key in ("env.ball_termination_distance", "scene.ball_touch_distance"):
        with pytest.raises(SkillMimicError, match=key):
            load_config([], [f"{key}=-0.1"])
    for bad in ("[-8000]", "[0.02,-1.0]"):  # a tuple of the wrong length carries no key in OmegaConf's error
        with pytest.raises(SkillMimicError, match="scene.ball_body_solref"):
            load_config([], [f"scene.ball_body_solref={bad}"])
    # learning rate 0: after one epoch the bias is still exactly what the initialisation wrote
    assert (
        main(
            [
                "train",
                "--motion",
                "ballplay-m/layup",
                "--num-envs",
                "4",
                "--epochs",
                "1",
                "--run",
                "b",
                f"runs_dir={tmp_path}",
                "ppo.horizon_length=4",
                "ppo.mu_init=mean_pose",
                "ppo.learning_rate=0.0",
                *SMALL,
            ]
        )
        == 0
    )
    bias = load_checkpoint(tmp_path / "b" / "nn" / "last.pth")["model"]["a2c_network.mu.bias"]
    lib = MotionLibrary.load(ballplay / "layup")
    expected = (lib.frames.dof_pos.mean(dim=0) / math.pi).clamp(-1, 1)
    assert (bias - expected).abs().max() < 1e-6 and expected.abs().max() > 0.05
