"""benchmarks/campaign.py: segments that add up, a row per segment, the committed file replaced
only by a better eval."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "campaign.py"


def _segment(root: Path, motion: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(SCRIPT), "--root", str(root), "--name", "tiny", "--minutes", "0.01"]
    cmd += ["--motion", str(motion), "--preset", "train/fast.yaml", "--num-envs", "4", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_campaign_segments_add_up_and_keep_the_better_policy(ballplay, tmp_path):
    motion = ballplay / "lleg_style1"
    first = _segment(tmp_path, motion, "ppo.units=[64,64]")
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    second = _segment(tmp_path, motion)
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    book = json.loads((tmp_path / "benchmarks" / "results" / "campaign-tiny.json").read_text())
    a, b = book["rows"]
    assert (book["motion"], book["preset"]) == (str(motion), "train/fast.yaml")
    assert a["started_from"] == "train/fast.yaml (new)" and a["committed"]
    assert b["started_from"] == "runs/campaigns/tiny/latest.pth"  # this machine's newest file
    assert a["samples_total"] == a["segment_samples"] > 0
    assert b["samples_total"] == a["samples_total"] + b["segment_samples"] and b["segment_samples"] > 0
    for row in (a, b):
        assert set(row["eval"]) >= {"success_rate", "normalized_reward", "fall_rate", "ball_kept_steps"}
        assert row["eval_600_steps"]["mean_episode_length"] >= row["eval"]["mean_episode_length"]
        assert row["machine"] and row["wall_clock_s"] > 0
    committed = tmp_path / "policies" / "campaign-tiny.pth"
    kept = torch.load(committed, weights_only=True)
    assert kept["skillmimic"]["resumable"] and kept["skillmimic"]["config"]["ppo"]["units"] == [64, 64]
    report = json.loads(committed.with_suffix(".eval.json").read_text())
    assert (report["episodes_per_clip"], report["steps"], report["seed"]) == (16, 160, 0)
    # replaced only when the second eval beat the first (success rate, then NR)
    better = (b["eval"]["success_rate"], b["eval"]["normalized_reward"]) > (
        a["eval"]["success_rate"],
        a["eval"]["normalized_reward"],
    )
    assert b["committed"] == better
    assert kept["frame"] == (b if better else a)["samples_total"]
    # a branch that beat the newest state continues from its own file (--start-from)
    first_file = sorted((tmp_path / "runs" / "campaigns" / "tiny").glob("tiny-*.pth"))[0]
    third = _segment(tmp_path, motion, "--start-from", str(first_file))
    assert third.returncode == 0, third.stdout[-2000:] + third.stderr[-2000:]
    c = json.loads((tmp_path / "benchmarks" / "results" / "campaign-tiny.json").read_text())["rows"][2]
    assert c["started_from"] == str(first_file.relative_to(tmp_path))
    assert c["samples_total"] == a["samples_total"] + c["segment_samples"]
