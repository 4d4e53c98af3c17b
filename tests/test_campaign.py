"""benchmarks/campaign.py: segments that add up, a row per segment, the committed file replaced
only by a better eval."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "campaign.py"


def _command(root: Path, motion: Path, *extra: str) -> list[str]:
    cmd = [sys.executable, str(SCRIPT), "--root", str(root), "--name", "tiny", "--minutes", "0.01"]
    return cmd + ["--motion", str(motion), "--preset", "train/fast.yaml", "--num-envs", "4", *extra]


def _segment(root: Path, motion: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(_command(root, motion, *extra), capture_output=True, text=True, timeout=600)


def _segment_started(root: Path, motion: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(_command(root, motion, *extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


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
    work = tmp_path / "runs" / "campaigns" / "tiny"
    first_file = sorted(work.glob("tiny-*.pth"))[0]
    logs = set(work.glob("tiny-*.log"))
    third = _segment_started(tmp_path, motion, "--start-from", str(first_file))
    while set(work.glob("tiny-*.log")) == logs and third.poll() is None:  # it has read the results file
        time.sleep(0.2)
    results = tmp_path / "benchmarks" / "results" / "campaign-tiny.json"
    side = json.loads(results.read_text())  # a segment beside it finishes first and adds its row
    side["rows"].append(dict(b, started_from="beside"))
    results.write_text(json.dumps(side))
    out, err = third.communicate(timeout=600)
    assert third.returncode == 0, out[-2000:] + err[-2000:]
    rows = json.loads(results.read_text())["rows"]
    assert [r["started_from"] for r in rows[2:]] == ["beside", str(first_file.relative_to(tmp_path))]
    assert rows[3]["samples_total"] == a["samples_total"] + rows[3]["segment_samples"]
