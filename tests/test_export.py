"""Checkpoints load without running code from the file; exported policies act like their checkpoint."""

import json
import os
import shlex
import shutil

import pytest
import torch

from skillmimic.cli import main
from skillmimic.config import load_config
from skillmimic.envs.observations import OBS_SIZE
from skillmimic.errors import SkillMimicError
from skillmimic.learning.export import export_policy
from skillmimic.policy import SkillPolicy
from skillmimic.policy.checkpoint import atomic_save, is_critic, load_checkpoint
from skillmimic.policy.skill import build_model


class _Payload:
    """Unpickling this runs a shell command that creates ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {shlex.quote(self.marker)}",)


def _one_line_error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_a_malicious_checkpoint_is_refused_and_runs_nothing(trained, tmp_path, capsys):
    motion, ckpt = trained
    # the payload is live: an unrestricted load runs it
    live = tmp_path / "live_marker"
    torch.save({"x": _Payload(live)}, tmp_path / "live.pth")
    torch.load(tmp_path / "live.pth", weights_only=False)
    assert live.exists()

    marker = tmp_path / "marker"
    state = load_checkpoint(ckpt)
    state["skillmimic"]["config"]["evil"] = _Payload(marker)  # otherwise a valid checkpoint
    evil, legacy = tmp_path / "evil.pth", tmp_path / "legacy.pth"
    torch.save(state, evil)
    torch.save(state, legacy, _use_new_zipfile_serialization=False)
    refusal = "refusing to load: it holds Python objects beyond tensors and plain data (unsafe pickle"
    for path in (evil, legacy):
        with pytest.raises(SkillMimicError, match=r"evil\.pth|legacy\.pth") as e:
            load_checkpoint(path)
        assert refusal in str(e.value) and "posix.system" in str(e.value) and len(str(e.value).splitlines()) == 1
    with pytest.raises(SkillMimicError, match="refusing to load"):
        SkillPolicy(evil)
    for argv in (
        ["eval", "--checkpoint", str(evil), "--motion", str(motion)],
        ["play", "--checkpoint", str(evil), "--motion", str(motion), "--video", str(tmp_path / "x.mp4")],
        ["export-policy", "--checkpoint", str(evil), "--out", str(tmp_path / "out.pth")],
    ):
        err = _one_line_error(capsys, argv)
        assert str(evil) in err and refusal in err
    # resuming a run whose last checkpoint was replaced
    run = tmp_path / "runs" / "r"
    (run / "nn").mkdir(parents=True)
    shutil.copy(ckpt.parents[1] / "config.yaml", run / "config.yaml")
    shutil.copy(evil, run / "nn" / "last.pth")
    assert refusal in _one_line_error(
        capsys, ["train", "--run", "r", "--resume", "--epochs", "1", f"runs_dir={tmp_path / 'runs'}"]
    )
    assert not marker.exists()
    assert not (tmp_path / "out.pth").exists()


def test_what_we_save_is_plain_data(trained, tmp_path):
    _, ckpt = trained
    raw = torch.load(ckpt, map_location="cpu", weights_only=True)  # no allow-list needed
    assert isinstance(raw["last_mean_rewards"], float) and isinstance(raw["epoch"], int)
    assert isinstance(raw["env_state"]["sampler"]["rng"], torch.Tensor)
    import numpy as np

    with pytest.raises(TypeError, match="object cannot be saved"):
        atomic_save({"a": object()}, tmp_path / "x.pth")
    atomic_save({"a": np.float32(1.5), "b": np.arange(3)}, tmp_path / "y.pth")
    y = torch.load(tmp_path / "y.pth", weights_only=True)
    assert y["a"] == 1.5 and torch.equal(y["b"], torch.arange(3))


@pytest.mark.slow
def test_exported_policy_acts_like_its_checkpoint(trained, tmp_path, capsys):
    motion, ckpt = trained
    out, half = tmp_path / "policies" / "p.pth", tmp_path / "policies" / "p16.pth"
    assert main(["export-policy", "--checkpoint", str(ckpt), "--out", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert main(["export-policy", "--checkpoint", str(ckpt), "--out", str(half), "--half"]) == 0
    assert "fp16" in capsys.readouterr().out
    assert half.stat().st_size < out.stat().st_size < ckpt.stat().st_size / 2
    assert not list(out.parent.glob(".*tmp*"))

    source = load_checkpoint(ckpt)
    raw = torch.load(out, map_location="cpu", weights_only=True)
    assert set(raw) == {"model", "epoch", "frame", "skillmimic"}  # no optimizer, no sampler state
    assert not any(is_critic(k) for k in raw["model"]) and "running_mean_std.running_mean" in raw["model"]
    meta = raw["skillmimic"]
    assert meta["exported"] is True and meta["half"] is False
    assert meta["source"] == {"checkpoint": "last.pth", "epoch": source["epoch"], "frame": source["frame"]}
    assert meta["clips"] == source["skillmimic"]["clips"] and meta["config"] == source["skillmimic"]["config"]
    raw16 = torch.load(half, map_location="cpu", weights_only=True)["model"]
    assert raw16["a2c_network.mu.weight"].dtype == torch.float16
    assert raw16["running_mean_std.running_var"].dtype == raw["model"]["running_mean_std.running_var"].dtype

    original, exported, exported16 = SkillPolicy(ckpt), SkillPolicy(out), SkillPolicy(half)
    assert exported.exported and not original.exported and exported.epoch == original.epoch
    assert exported.skills == original.skills
    assert next(exported16.model.parameters()).dtype == torch.float32
    obs = torch.randn(256, OBS_SIZE, generator=torch.Generator().manual_seed(0))
    a = original.act(obs)
    assert torch.equal(exported.act(obs), a)
    assert torch.allclose(exported16.act(obs), a, atol=1e-2)

    # eval of the exported file matches eval of the checkpoint (same weights, deterministic CPU sim)
    reports = []
    for path in (ckpt, out):
        js = tmp_path / f"{path.stem}.json"
        assert (
            main(
                [
                    "eval",
                    "--checkpoint",
                    str(path),
                    "--motion",
                    str(motion),
                    "--episodes",
                    "1",
                    "--steps",
                    "15",
                    "--num-envs",
                    "3",
                    "--json",
                    str(js),
                ]
            )
            == 0
        )
        assert "031 layup" in capsys.readouterr().out
        reports.append(json.loads(js.read_text()))
    assert reports[0]["skills"] == reports[1]["skills"]

    # an exported file is not a training checkpoint
    with pytest.raises(SkillMimicError, match="already an exported policy"):
        export_policy(out, tmp_path / "again.pth")


def test_export_of_the_upstream_network_fits_in_10_mb(trained, tmp_path):
    _, ckpt = trained
    state = load_checkpoint(ckpt)
    state["skillmimic"]["config"]["ppo"]["units"] = [1024, 512, 512]
    model = build_model(load_config(base=state["skillmimic"]["config"]))
    state["model"] = model.state_dict()
    opt = torch.optim.Adam(model.parameters())
    obs = torch.zeros(1, OBS_SIZE)
    model(dict(is_train=False, prev_actions=None, obs=obs, rnn_states=None))["mus"].sum().backward()
    opt.step()
    state["optimizer"] = opt.state_dict()
    big = tmp_path / "big.pth"
    atomic_save(state, big)
    out, half = tmp_path / "big_policy.pth", tmp_path / "big_policy16.pth"
    r = export_policy(big, out)
    r16 = export_policy(big, half, half=True)
    print(
        f"\nupstream network: checkpoint {r['source_bytes'] / 1e6:.1f} MB, exported {r['bytes'] / 1e6:.1f} MB, "
        f"fp16 {r16['bytes'] / 1e6:.1f} MB"
    )
    assert r["bytes"] <= 10e6 and r16["bytes"] <= 5e6 and r["bytes"] < big.stat().st_size / 3
    res = export_policy(big, tmp_path / "big_resumable.pth", resumable=True)
    print(f"compact resumable (actor + critic, fp16): {res['bytes'] / 1e6:.1f} MB")
    assert res["bytes"] <= 10e6 and res["bytes"] < big.stat().st_size / 4
    obs = torch.randn(16, OBS_SIZE, generator=torch.Generator().manual_seed(1))
    a = SkillPolicy(big).act(obs)
    assert torch.equal(SkillPolicy(out).act(obs), a) and torch.allclose(SkillPolicy(half).act(obs), a, atol=1e-2)


@pytest.mark.slow
def test_compact_resumable_file_round_trips_and_a_new_run_continues_its_actor(trained, tmp_path, capsys):
    motion, ckpt = trained
    src = load_checkpoint(ckpt)
    res = tmp_path / "campaign.pth"
    assert main(["export-policy", "--checkpoint", str(ckpt), "--out", str(res), "--resumable"]) == 0
    assert "resumable" in capsys.readouterr().out
    state = load_checkpoint(res)
    meta = state["skillmimic"]
    assert meta["resumable"] and meta["exported"] and "optimizer" not in state
    # every weight of actor and critic, in fp16; the normalisers exactly
    assert set(state["model"]) == set(src["model"])
    for key, value in state["model"].items():
        if key.startswith(("running_mean_std.", "value_mean_std.")):
            assert torch.equal(value, src["model"][key]), key
        elif value.is_floating_point():
            assert value.dtype == torch.float16 and torch.equal(value, src["model"][key].half()), key
    assert state["env_state"]["sampler"]["rng"].equal(src["env_state"]["sampler"]["rng"])
    assert (state["epoch"], state["frame"]) == (src["epoch"], src["frame"])
    # it plays like any exported policy
    obs = torch.randn(4, OBS_SIZE, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(SkillPolicy(res).act(obs), SkillPolicy(ckpt).act(obs), atol=1e-2)

    # a new run from it: same config (but what is overridden), the counters go on, and with a zero
    # learning rate the actor stays exactly the file's (fp16 values read back as float32)
    runs = tmp_path / "runs"
    argv = ["train", "--resume-from", str(res), "--run", "next", "--epochs", "1", f"runs_dir={runs}"]
    assert main([*argv, "ppo.learning_rate=0"]) == 0
    out = capsys.readouterr().out
    assert "epochs 2..2" in out
    new = load_checkpoint(runs / "next" / "nn" / "last.pth")
    assert new["epoch"] == src["epoch"] + 1 and new["frame"] == 2 * src["frame"]
    for key, value in state["model"].items():
        if key.startswith("a2c_network.actor_mlp.") or key.startswith("a2c_network.mu."):
            assert torch.equal(new["model"][key], value.float()), key
    old_cfg, new_cfg = src["skillmimic"]["config"], new["skillmimic"]["config"]
    assert new_cfg["ppo"]["learning_rate"] == 0 and new_cfg["motion"] == old_cfg["motion"]
    assert {k: v for k, v in new_cfg["ppo"].items() if k != "learning_rate"} == {
        k: v for k, v in old_cfg["ppo"].items() if k != "learning_rate"
    }
    assert new_cfg["env"] == old_cfg["env"] and new_cfg["reward"] == old_cfg["reward"]
    assert torch.equal(new["model"]["a2c_network.sigma"], src["model"]["a2c_network.sigma"])
    # the frozen log-std is a setting, not a weight: an override reaches the resumed run
    noisy = ["train", "--resume-from", str(res), "--run", "quiet", "--epochs", "1", f"runs_dir={runs}"]
    assert main([*noisy, "ppo.learning_rate=0", "ppo.log_std=-3.5"]) == 0
    sigma = load_checkpoint(runs / "quiet" / "nn" / "last.pth")["model"]["a2c_network.sigma"]
    assert src["model"]["a2c_network.sigma"].ne(-3.5).all() and sigma.eq(-3.5).all()

    # what cannot work is refused in one line
    assert "needs --run" in _one_line_error(capsys, ["train", "--resume-from", str(res)])
    assert "pick one" in _one_line_error(capsys, [*argv[:5], "--resume", f"runs_dir={runs}"])
    policy_only = tmp_path / "policy.pth"
    export_policy(ckpt, policy_only)
    err = _one_line_error(capsys, ["train", "--resume-from", str(policy_only), "--run", "x", f"runs_dir={runs}"])
    assert "export-policy --resumable" in err
    other = motion.parent / "other"
    (other / "pass").mkdir(parents=True, exist_ok=True)
    shutil.copy(next((motion / "pass").glob("*.pt")), other / "pass")
    err = _one_line_error(capsys, [*argv[:3], "--run", "y", "--motion", str(other), f"runs_dir={runs}"])
    assert "use the file's own motion" in err
