"""Playback, video and evaluation of a trained checkpoint; success criteria on constructed episodes."""

import json

import imageio.v2 as imageio
import pytest
import torch

from skillmimic.cli import main
from skillmimic.eval.criteria import SKILL_CRITERION
from skillmimic.eval.evaluate import METRICS, _Runner
from skillmimic.motion import MotionLibrary
from skillmimic.policy import load_policy
from skillmimic.policy.checkpoint import atomic_save, load_checkpoint
from skillmimic.sim.state import SimState
from skillmimic.skills import SKILLS
from skillmimic.viewer.keys import skill_for_key
from skillmimic.viewer.play import Playback


@pytest.mark.slow
def test_eval_reports_every_metric_for_every_skill(trained, tmp_path, capsys):
    motion, ckpt = trained
    out = tmp_path / "eval.json"
    assert (
        main(
            [
                "eval",
                "--checkpoint",
                str(ckpt),
                "--motion",
                str(motion),
                "--episodes",
                "2",
                "--steps",
                "40",
                "--num-envs",
                "4",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    table = capsys.readouterr().out
    assert "031 layup" in table and "011 dribble_left" in table and "004 pass" in table
    rep = json.loads(out.read_text())
    assert set(rep["skills"]) == {"031", "011", "004"}
    for sid, r in rep["skills"].items():
        assert set(METRICS) <= set(r) and r["criterion"] == SKILL_CRITERION[int(sid)] and r["episodes"] == 2
        for rate in ("success_rate", "upstream_success_rate", "fall_rate"):
            assert 2 * r[rate] == pytest.approx(round(2 * r[rate]))  # a count of its 2 episodes
        assert 1 <= r["mean_episode_length"] <= 40
        # one clip per skill here: the skill's row is its clip's
        (clip,) = [c for c in rep["clips"] if c["skill_id"] == int(sid)]
        assert {m: clip[m] for m in METRICS} == {m: r[m] for m in METRICS}
    assert len(rep["clips"]) == 3 and all(set(METRICS) <= set(c) for c in rep["clips"])
    assert rep["overall"]["episodes"] == 6
    for m in ("success_rate", "fall_rate", "mean_episode_length"):  # equal episodes per skill: the mean
        mean = sum(r[m] for r in rep["skills"].values()) / 3
        assert rep["overall"][m] == pytest.approx(mean, abs=0.01)
    # what re-running the eval needs; the batch size can change float rounding, so it is recorded too
    assert (rep["episodes_per_clip"], rep["steps"], rep["num_envs"], rep["seed"]) == (2, 40, 4, 0)


@pytest.mark.slow
def test_eval_all_modes_reports_sr_ensr_tsr_and_nr(trained, tmp_path, capsys):
    motion, ckpt = trained
    out = tmp_path / "eval.json"
    args = ["eval", "--checkpoint", str(ckpt), "--motion", str(motion), "--mode", "all", "--trials", "2"]
    assert main([*args, "--steps", "20", "--num-envs", "4", "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "SR: starts on the reference" in table and "eNSR: noisy starts (epsilon 0.1)" in table
    assert "TSR: success from source skill (rows) into target skill (columns)" in table
    assert "summary: SR " in table and "eNSR " in table and " NR " in table
    rep = json.loads(out.read_text())
    assert rep["overall"]["episodes"] == 6 and rep["ensr"]["overall"]["episodes"] == 6  # 2 trials x 3 skills
    matrix = rep["tsr"]["matrix"]
    assert set(matrix) == {"031", "011", "004"} and all(set(row) == set(matrix) - {a} for a, row in matrix.items())
    for row in matrix.values():
        for cell in row.values():
            assert cell["starts"] == 2 and cell["episodes"] + cell["no_edge"] == 2
    assert sum(c["episodes"] for row in matrix.values() for c in row.values()) == rep["tsr"]["overall"]["episodes"]
    # seeded: the same command gives the same report
    assert main([*args, "--steps", "20", "--num-envs", "4", "--json", str(tmp_path / "again.json")]) == 0
    assert json.loads((tmp_path / "again.json").read_text())["ensr"] == rep["ensr"]


def test_tsr_episode_starts_in_the_source_skill_and_is_judged_as_the_target(trained):
    from skillmimic.envs.imitation import ImitationEnv
    from skillmimic.envs.sampling import FixedStartSampler, Starts
    from skillmimic.envs.transition_field import switch_starts
    from skillmimic.graph import build_graph
    from skillmimic.sim.factory import make_simulator
    from skillmimic.sim.state import SimState

    motion, _ = trained
    lib = MotionLibrary.load(motion)
    graph = build_graph(lib)
    src = int((lib.skill_ids == 31).nonzero()[0])
    clips, frames = torch.tensor([src, src]), torch.tensor([30, 50])
    target = torch.tensor([4, 11])
    b_clip, b_frame, _, yaw, shift, ok = switch_starts(lib, graph, clips, frames, torch.zeros(2), target)
    assert ok.all() and torch.equal(lib.skill_ids[b_clip], target)
    state = SimState.from_motion(lib.get(clips, frames))
    env = ImitationEnv(
        lib, make_simulator("mujoco", 2), sampler=FixedStartSampler(Starts(b_clip, b_frame, state, yaw, shift))
    )
    env.reset()
    torch.testing.assert_close(env.sim.state().dof_pos, state.dof_pos)  # the body is in the layup
    assert env.skill.tolist() == [4, 11]  # conditioned on the targets
    criteria = [SKILL_CRITERION[int(s)] for s in lib.skill_ids[env.clip]]  # what eval judges by
    assert criteria == [SKILL_CRITERION[4], SKILL_CRITERION[11]]


@pytest.mark.slow
def test_play_video_has_the_expected_frames(trained, tmp_path, capsys):
    motion, ckpt = trained
    video = tmp_path / "play.mp4"
    assert (
        main(
            [
                "play",
                "--checkpoint",
                str(ckpt),
                "--motion",
                str(motion),
                "--skill",
                "dribble_left",
                "--video",
                str(video),
                "--seconds",
                "0.5",
                "--ghost",
                "--width",
                "160",
                "--height",
                "120",
            ]
        )
        == 0
    )
    assert "30 frames" in capsys.readouterr().out
    reader = imageio.get_reader(video)
    assert reader.count_frames() == 30 and reader.get_meta_data()["fps"] == 60
    frame = reader.get_data(10)
    assert frame.shape == (120, 160, 3) and frame.std() > 5


def test_play_starts_at_the_frame_asked_for(trained, tmp_path, capsys):
    """``play --frame``: a policy watched past its clip's opening; a frame outside the clip is refused."""
    motion, ckpt = trained
    playback = Playback(str(ckpt), str(motion), None, 0.1, ghost=False, frame=20)
    env, lib = playback.env, playback.lib
    clip = env.clip.cpu()
    assert int(env.start[0]) == 20 and int(env.progress[0]) == 0
    at = {f: SimState.from_motion(lib.get(clip, torch.tensor([f]))).dof_pos for f in (0, 20)}
    torch.testing.assert_close(env.sim.state().dof_pos, at[20])
    assert not torch.allclose(at[0], at[20], atol=1e-2)  # frame 20 is not the opening's pose
    video = ["--video", str(tmp_path / "x.mp4")]
    err = _error(capsys, ["play", "--checkpoint", str(ckpt), "--motion", str(motion), "--frame", "100000", *video])
    assert "error: --frame 100000: clip " in err and "frames (0 to " in err, err
    assert "--frame" in _error(capsys, ["play", "--checkpoint", str(ckpt), "--frame", "-1", *video])
    assert "--frame" in _error(capsys, ["play", "--dataset", "--motion", str(motion), "--frame", "3", *video])


def test_playback_ignores_the_training_drift_rules(trained, tmp_path):
    """A policy trained with drift terminations plays on (like eval) until it falls."""
    motion, ckpt = trained
    state = load_checkpoint(ckpt)
    state["skillmimic"]["config"]["env"].update(termination_distance=1e-4, ball_termination_distance=1e-4)
    atomic_save(state, tmp_path / "drift.pth")
    playback = Playback(str(tmp_path / "drift.pth"), str(motion), None, 1.0, ghost=False)
    for _ in range(10):
        playback.step()
    assert int(playback.env.progress[0]) == 10 and playback.env.totals == dict(falls=0, diverged=0, timeouts=0)


def test_eval_counts_touches_without_the_training_touch_distance(trained, tmp_path):
    """NR stays comparable: eval scores hand-ball contact the plain way; playback keeps the policy's scene."""
    motion, ckpt = trained
    state = load_checkpoint(ckpt)
    state["skillmimic"]["config"]["scene"]["ball_touch_distance"] = 0.005
    atomic_save(state, tmp_path / "touch.pth")
    policy = load_policy(str(tmp_path / "touch.pth"), "cpu", "mujoco")
    cfg = policy.config
    lib = MotionLibrary.load(motion)
    runner = _Runner(lib, policy, 10, 2)
    assert cfg.scene.ball_touch_distance == 0.005 and runner.env.sim.scene.ball_touch_distance == 0.0
    playback = Playback(str(tmp_path / "touch.pth"), str(motion), None, 0.1, ghost=False)
    assert playback.env.sim.scene.ball_touch_distance == 0.005


@pytest.mark.slow
def test_eval_scores_nr_with_the_default_reward_whatever_the_policy_trained_with(trained, tmp_path):
    """NR compares across runs: a policy trained with other reward weights gets the same NR."""
    from skillmimic.eval.evaluate import evaluate

    motion, ckpt = trained
    state = load_checkpoint(ckpt)
    state["skillmimic"]["config"]["reward"].update(op=50.0, cg2=1.0, ig=0.0)
    atomic_save(state, tmp_path / "weights.pth")
    args = dict(motion=str(motion), episodes=2, steps=20, num_envs=4, device="cpu", backend="mujoco")
    plain, reweighted = (evaluate(str(c), **args)["overall"] for c in (ckpt, tmp_path / "weights.pth"))
    assert plain == reweighted and 0 < plain["normalized_reward"] < 1


@pytest.mark.slow
def test_play_dataset(trained, tmp_path, capsys):
    motion, _ = trained
    video = tmp_path / "ref.mp4"
    assert (
        main(
            [
                "play",
                "--dataset",
                "--motion",
                str(motion),
                "--skill",
                "pass",
                "--video",
                str(video),
                "--width",
                "160",
                "--height",
                "120",
            ]
        )
        == 0
    )
    assert imageio.get_reader(video).count_frames() == 51  # the pass clip only


def _error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_bad_checkpoints_are_refused(trained, tmp_path, ballplay, capsys):
    motion, ckpt = trained
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(ckpt.read_bytes()[:1000])
    assert "cannot read checkpoint" in _error(capsys, ["eval", "--checkpoint", str(corrupt), "--motion", str(motion)])
    state = torch.load(ckpt, weights_only=False)
    state["skillmimic"]["obs_size"] = 902
    mismatched = tmp_path / "mismatched.pth"
    torch.save(state, mismatched)
    err = _error(
        capsys, ["play", "--checkpoint", str(mismatched), "--motion", str(motion), "--video", str(tmp_path / "x.mp4")]
    )
    assert "902 observation values" in err and "882" in err
    foreign = tmp_path / "foreign.pth"
    torch.save({"model": {}}, foreign)
    assert "not a SkillMimic policy" in _error(capsys, ["eval", "--checkpoint", str(foreign), "--motion", str(motion)])
    # a skill the policy never trained on
    err = _error(capsys, ["eval", "--checkpoint", str(ckpt), "--motion", str(ballplay / "rrun")])
    assert "012 dribble_right" in err and "trained on skills" in err
    assert "not found" in _error(capsys, ["eval", "--checkpoint", str(tmp_path / "none.pth"), "--motion", str(motion)])


def test_every_skill_has_a_criterion_and_keys_pick_known_skills():
    assert set(SKILL_CRITERION) == set(SKILLS)
    assert skill_for_key(263, {11, 31}) == 11  # Left arrow: dribble left
    assert skill_for_key(87, {5, 9}) == 9  # W: the shot the policy knows, preferring 009
    assert skill_for_key(69, {11}) is None  # E (layup) unknown to this policy
    assert skill_for_key(0, {11}) is None


def test_ball_kept_steps_count_until_the_ball_leaves_the_character(ballplay):
    """A ball started 0.8 m off its place is lost from the first step; a held one is kept for a
    while under open-loop reference targets, and lost before the episode ends (no hand carries it)."""
    import math

    from skillmimic.config import EnvConfig
    from skillmimic.envs.imitation import ImitationEnv
    from skillmimic.envs.sampling import FixedStartSampler, Starts
    from skillmimic.eval.evaluate import BALL_LOST, _run
    from skillmimic.sim.factory import make_simulator
    from skillmimic.sim.state import SimState

    lib = MotionLibrary.load(ballplay / "layup")
    clips, frames = torch.zeros(4, dtype=torch.long), torch.tensor([10, 20, 60, 70])  # ball in the hand
    state = SimState.from_motion(lib.get(clips, frames))
    state.ball_pos[0] += torch.tensor([0.8, 0.0, 0.0])
    sampler = FixedStartSampler(Starts(clips, frames, state))
    env = ImitationEnv(lib, make_simulator("mujoco", 4), EnvConfig().rollout(60), sampler=sampler)  # as eval runs

    class ReferenceTargets:
        """Open-loop PD targets: the next reference frame's joint angles."""

        def act(self, obs):
            return lib.get(env.clip, env.start + env.progress + 1).dof_pos / math.pi

    out = _run(env, ReferenceTargets(), 60, torch.zeros(1, 3))
    kept, length = out["ball_kept"], out["length"]
    print(f"\nball kept {kept.tolist()} of {length.tolist()} steps (lost beyond {BALL_LOST} m)")
    assert kept[0] == 0
    assert (kept[1:] >= 3).all() and (kept[1:] < length[1:]).all()
