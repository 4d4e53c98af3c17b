"""The one GPU command's CPU dry run: every stage runs, on tiny sizes, so the GPU call never dies
on a typo; and what it leaves in $OUT fits what a device call brings back (<= 8 files)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from skillmimic.policy.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]


def _gpu_sh(tmp_path, out, *args):
    cmd = ["bash", str(ROOT / "benchmarks" / "gpu.sh"), "--device", "cpu", "--tiny", "--out", str(out)]
    cmd += ["--work", str(tmp_path / "work"), *args]
    p = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,
        env={**os.environ, "OUT": "", "PYTHON": sys.executable},
    )
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return json.loads((out / "gpu.json").read_text())


@pytest.mark.slow
def test_gpu_script_dry_run(tmp_path):
    out = tmp_path / "out"
    res = _gpu_sh(tmp_path, out, "ppo.mini_epochs=2")  # a training override passes through
    assert res["failed"] == []
    names = [s["name"] for s in res["stages"]]
    assert names == ["sim-graph", "sim-eager", "env-8", "train", "export", "eval"]
    assert res["stages"][3]["command"].endswith("ppo.horizon_length=8 ppo.mini_epochs=2")
    assert [r["envs"] for r in res["sim-graph"]] == [8, 16] and all(
        r["world_steps_per_s"] > 0 for r in res["sim-graph"]
    )
    assert res["sim-eager"][0]["graph"] is False and res["env-8"]["env_steps_per_s"] > 0
    assert res["train_epochs"] and res["train_epochs"][-1].startswith("epoch ")
    assert res["eval"]["episodes"] == 2
    # the exported policy acts as the run's checkpoint: the same eval of the checkpoint scores the same
    from skillmimic.eval.evaluate import evaluate

    ev = json.loads((out / "eval.json").read_text())
    last = tmp_path / "work" / "runs" / "gpu_layup" / "nn" / "last.pth"
    again = evaluate(
        str(last), ev["motion"], ev["episodes_per_clip"], ev["steps"], ev["num_envs"], "cpu", ev["backend"]
    )
    assert 0.0 < again["overall"]["normalized_reward"] == res["eval"]["normalized_reward"] < 1.0
    files = sorted(f.name for f in out.rglob("*") if f.is_file())
    assert files == ["eval.json", "gpu.json", "layup.pth", "log.txt", "train.tfevents"]
    assert (out / "layup.pth").stat().st_size < 10 * 2**20
    assert "mini_epochs: 2" in (tmp_path / "work" / "runs" / "gpu_layup" / "config.yaml").read_text()

    # A second command continues the same run without the benchmarks (a session's last minutes).
    first = load_checkpoint(tmp_path / "work" / "runs" / "gpu_layup" / "nn" / "last.pth")["epoch"]
    again = _gpu_sh(tmp_path, tmp_path / "out2", "--skip-bench", "--resume")
    assert again["failed"] == [] and again["resumed"] is True
    assert [s["name"] for s in again["stages"]] == ["train", "export", "eval"]
    assert "--resume" in again["stages"][0]["command"]
    last = load_checkpoint(tmp_path / "work" / "runs" / "gpu_layup" / "nn" / "last.pth")["epoch"]
    assert last > first
    assert sorted(f.name for f in (tmp_path / "out2").iterdir()) == files
