"""The committed policy files score what their eval JSON says: a change to the simulation, the
observations or the actions that breaks a trained policy fails here, not in a user's eval."""

import json
from pathlib import Path

import pytest

from skillmimic.cli import main

POLICIES = Path(__file__).resolve().parents[1] / "policies"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(p.stem for p in POLICIES.glob("*.pth")))
def test_committed_policy_scores_its_eval(name, data_dir, tmp_path):
    saved = json.loads((POLICIES / f"{name}.eval.json").read_text())
    out = tmp_path / "eval.json"
    args = ["eval", "--checkpoint", str(POLICIES / f"{name}.pth"), "--motion", str(data_dir / saved["motion"])]
    args += ["--episodes", str(saved["episodes_per_clip"]), "--steps", str(saved["steps"])]
    args += ["--seed", str(saved["seed"]), "--num-envs", str(saved["num_envs"]), "--json", str(out)]
    assert main([*args, "--device", "cpu"]) == 0
    now, then = json.loads(out.read_text())["overall"], saved["overall"]
    episode = 1 / now["episodes"]  # float rounding may tip one episode on another thread count
    assert abs(now["success_rate"] - then["success_rate"]) <= episode + 1e-9
    assert abs(now["fall_rate"] - then["fall_rate"]) <= episode + 1e-9
    assert now["normalized_reward"] == pytest.approx(then["normalized_reward"], abs=0.01)
