"""Data-parallel training under torchrun on the CPU (gloo): two ranks train one policy, only rank 0
writes, the checkpoint resumes on one process, and a rank that dies ends the job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from skillmimic.cli import main
from skillmimic.policy.checkpoint import load_checkpoint

CLIP = "layup/031_015pickle_layup_001_001.pt"


def _torchrun(tmp_path: Path, ballplay: Path, run: str, *args: str) -> list[str]:
    motion = tmp_path / "motion"
    if not motion.exists():
        motion.mkdir()
        (motion / Path(CLIP).name).symlink_to(ballplay / CLIP)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    # run=NAME, not --run NAME: torchrun's own parser reads --run as an abbreviation of its --run-path
    cmd += ["-m", "skillmimic", "train", "--motion", str(motion), "--num-envs", "4", *args, f"run={run}"]
    return [*cmd, f"runs_dir={tmp_path / 'runs'}", "ppo.units=[64,64]", "ppo.horizon_length=16"]


def _env(tag: str = "") -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "SKILLMIMIC_TEST_TAG": tag}


@pytest.mark.slow
def test_two_ranks_train_one_policy_and_rank_0_alone_writes(tmp_path, ballplay):
    p = subprocess.run(
        _torchrun(tmp_path, ballplay, "ddp", "--epochs", "2"), env=_env(), capture_output=True, text=True, timeout=600
    )
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    epochs = [ln for ln in p.stdout.splitlines() if ln.startswith("epoch ")]
    assert len(epochs) == 2 and all("[2 ranks]" in ln for ln in epochs), p.stdout  # one line per epoch: rank 0's
    assert "2 ranks end with the same weights and normalisers" in p.stdout
    assert p.stdout.count("run ddp:") == 1
    run = tmp_path / "runs" / "ddp"
    files = {str(f.relative_to(run)).split("/")[0] for f in run.rglob("*") if f.is_file()}
    assert files == {".lock", "config.yaml", "nn", "summaries"}  # the lock names rank 0, the folder's owner
    assert len(list((run / "summaries").glob("events.*"))) == 1  # one writer: rank 0's
    assert sorted(f.name for f in (run / "nn").iterdir()) in (["last.pth"], ["best.pth", "last.pth"])
    state = load_checkpoint(run / "nn" / "last.pth")
    assert state["epoch"] == 2 and state["frame"] == 2 * 2 * 4 * 16  # epochs x ranks x worlds x horizon
    weights = {k: v.clone() for k, v in state["model"].items()}
    # the normalisers were merged: the observation normaliser saw every rank's samples' statistics
    assert torch.isfinite(weights["running_mean_std.running_mean"]).all()
    # eval and export take it like any checkpoint
    ckpt = str(run / "nn" / "last.pth")
    assert (
        main(["eval", "--checkpoint", ckpt, "--motion", str(tmp_path / "motion"), "--episodes", "1", "--steps", "10"])
        == 0
    )
    assert main(["export-policy", "--checkpoint", ckpt, "--out", str(tmp_path / "p.pth")]) == 0
    # the checkpoint resumes on one process (the run named as under torchrun)
    assert main(["train", "--resume", "--epochs", "1", "run=ddp", f"runs_dir={tmp_path / 'runs'}"]) == 0
    assert load_checkpoint(run / "nn" / "last.pth")["epoch"] == 3


def _workers(tag: str) -> dict[int, int]:
    """rank -> pid of the training processes started with ``SKILLMIMIC_TEST_TAG=tag``."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            raw = (proc / "environ").read_bytes().decode(errors="replace")
        except OSError:
            continue
        env = dict(kv.split("=", 1) for kv in raw.split("\0") if "=" in kv)
        if env.get("SKILLMIMIC_TEST_TAG") == tag and "RANK" in env and "LOCAL_RANK" in env:
            found[int(env["RANK"])] = int(proc.name)
    return found


@pytest.mark.slow
def test_a_rank_that_dies_ends_the_job_and_the_checkpoint_resumes(tmp_path, ballplay):
    tag = f"dies-{os.getpid()}"
    cmd = _torchrun(tmp_path, ballplay, "dies", "--epochs", "10000")
    cmd.append("ppo.save_frequency=1")
    job = subprocess.Popen(cmd, env=_env(tag), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        for line in job.stdout:
            lines.append(line)
            if line.startswith("epoch 3"):
                break
        workers = _workers(tag)
        assert set(workers) == {0, 1}, "".join(lines[-20:])
        os.kill(workers[1], signal.SIGKILL)
        t0 = time.monotonic()
        rest = job.communicate(timeout=120)[0]
        assert job.returncode != 0 and time.monotonic() - t0 < 120
    finally:
        if job.poll() is None:
            job.kill()
    assert not _workers(tag), "a rank outlived the job"
    assert "Signals.SIGKILL" in rest or "exitcode" in rest, rest[-2000:]
    last = tmp_path / "runs" / "dies" / "nn" / "last.pth"
    epoch = load_checkpoint(last)["epoch"]
    assert epoch >= 2
    assert main(["train", "--run", "dies", "--resume", "--epochs", "1", f"runs_dir={tmp_path / 'runs'}"]) == 0
    assert load_checkpoint(last)["epoch"] == epoch + 1
