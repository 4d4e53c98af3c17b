"""The tracking teacher (residual actions, the reference in the observation, a looping reference)
and its distillation by DAgger into a policy that needs no reference."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from skillmimic import rotations as rot
from skillmimic.cli import main
from skillmimic.config import load_config
from skillmimic.envs.actions import ActionMap
from skillmimic.envs.imitation import ImitationEnv
from skillmimic.envs.observations import OBS_SIZE, obs_layout
from skillmimic.envs.reference import loop_anchor, loop_targets
from skillmimic.envs.sampling import FixedStartSampler, Starts
from skillmimic.errors import SkillMimicError
from skillmimic.humanoid import BODY_DOFS, FINGER_DOFS
from skillmimic.learning.distill import Distiller, absolute_labels, student_config
from skillmimic.motion import MotionLibrary
from skillmimic.policy import SkillPolicy
from skillmimic.sim.factory import make_simulator


@pytest.fixture(scope="module")
def dribble(ballplay):
    return MotionLibrary.load(ballplay / "lleg_style1")


def _env(lib, starts, **env):
    cfg = load_config(["train/teacher.yaml"], [f"env.{k}={v}" for k, v in env.items()])
    clips = torch.zeros(len(starts), dtype=torch.long)
    sampler = FixedStartSampler(Starts(clips, torch.tensor(starts)))
    sim = make_simulator("mujoco", len(starts), scene=cfg.scene)
    return ImitationEnv(lib, sim, cfg.env, cfg.reward, sampler=sampler)


def test_residual_actions_are_offsets_around_the_next_reference_frame(dribble):
    ref = dribble.frames.dof_pos[:3]
    skills = torch.full((3,), 44)
    m = ActionMap("skill_pose", dribble, residual=0.5)
    zero = m(torch.zeros(3, 66), skills, ref)
    assert torch.equal(zero[:, list(BODY_DOFS)], ref[:, list(BODY_DOFS)])  # a zero action follows the data
    assert torch.equal(zero[:, list(FINGER_DOFS)], m.finger_pose[skills])  # fingers held as in fast
    ones = m(torch.full((3, 66), 3.0), skills, ref)  # clipped to 1 before scaling
    assert torch.allclose(ones[:, list(BODY_DOFS)], ref[:, list(BODY_DOFS)] + 0.5 * math.pi)

    # in the env: a zero action commands the frame after the current one
    env = _env(dribble, [10, 100])
    env.reset()
    sent = []
    step = env.sim.step
    env.sim.step = lambda targets: (sent.append(targets.clone()), step(targets))[1]
    env.step(torch.zeros(2, 66))
    expected = dribble.frames.dof_pos[[11, 101]]
    assert torch.equal(sent[0][:, list(BODY_DOFS)], expected[:, list(BODY_DOFS)])
    # the student's labels: the teacher's targets as absolute actions
    a, ref = torch.tensor([[0.0, 1.0, -3.0, 1.0]]), torch.tensor([[1.0, 0.2, -0.1, 3.0]])
    expected = torch.tensor([[1 / math.pi, 0.2 / math.pi + 0.5, -0.1 / math.pi - 0.5, 1.0]])  # clipped at 1
    assert torch.allclose(absolute_labels(a, ref, 0.5), expected)
    with pytest.raises(SkillMimicError, match="mu_init"):
        load_config(["train/teacher.yaml"], ["ppo.mu_init=mean_pose"])


def test_reference_observation_is_the_next_frame_seen_from_the_character(dribble):
    env = _env(dribble, [20, 60, 140])
    obs = env.reset()
    lo, hi = obs_layout(False, True)["reference"]
    assert (lo, hi) == (OBS_SIZE, OBS_SIZE + 162) and obs.shape[1] == env.num_obs == hi
    now, nxt = (
        dribble.get(torch.zeros(3, dtype=torch.long), torch.tensor([20, 60, 140])),
        dribble.get(torch.zeros(3, dtype=torch.long), torch.tensor([21, 61, 141])),
    )
    part = obs[:, lo:hi]
    assert torch.allclose(part[:, :156], rot.wrap_angle(nxt.dof_pos - now.dof_pos), atol=1e-4)
    inv = rot.yaw_quat(-rot.heading_angle(now.root_rot))
    assert torch.allclose(part[:, 156:159], rot.quat_rotate(inv, nxt.root_pos - now.root_pos), atol=1e-4)
    assert torch.allclose(part[:, 159:162], rot.quat_rotate(inv, nxt.ball_pos - now.ball_pos), atol=1e-4)
    # the first 882 values are the student's observation, the same as an env without the reference
    plain = _env(dribble, [20, 60, 140], reference_obs="false").reset()
    assert torch.allclose(obs[:, :OBS_SIZE], plain, atol=1e-5)


def test_the_reference_loops_past_the_clip_end_without_a_jump(dribble):
    to, sim = loop_targets(dribble)
    last = int(dribble.lengths[0]) - 1
    assert 0 < int(to[0]) <= last - 30 and float(sim[0]) > 0.5  # a between-the-legs dribble repeats
    # re-anchored: the loop frame stands where the last frame stood, with its heading
    clips = torch.zeros(2, dtype=torch.long)
    yaw, shift = torch.tensor([0.0, 1.0]), torch.tensor([[0.0, 0.0, 0.0], [2.0, -1.0, 0.0]])
    new_yaw, new_shift = loop_anchor(dribble, clips, torch.full((2,), last), to.repeat(2), yaw, shift)
    before = dribble.get(clips, torch.full((2,), last)).anchored(yaw, shift)
    after = dribble.get(clips, to.repeat(2)).anchored(new_yaw, new_shift)
    assert torch.allclose(after.root_pos[:, :2], before.root_pos[:, :2], atol=1e-5)
    heading = rot.wrap_angle(rot.heading_angle(after.root_rot) - rot.heading_angle(before.root_rot))
    assert heading.abs().max() < 1e-5
    # in the env: 3 steps before the end, the reference runs on from the loop frame
    env = _env(dribble, [last - 3], termination_distance=0, ball_termination_distance=0)
    env.reset()
    frames = []
    for _ in range(6):
        env.step(torch.zeros(1, 66))
        frames.append(int(env.frame[0]))
    assert frames == [last - 2, last - 1, int(to[0]), int(to[0]) + 1, int(to[0]) + 2, int(to[0]) + 3]
    assert int(env.progress[0]) == 6  # the episode goes on


@pytest.fixture(scope="module")
def teacher(ballplay, tmp_path_factory):
    root = tmp_path_factory.mktemp("teacher")
    args = ["train", "--config", "train/teacher.yaml", "--motion", str(ballplay / "lleg_style1"), "--run", "t"]
    assert main([*args, "--num-envs", "4", "--epochs", "1", f"runs_dir={root}", "ppo.units=[64,64]"]) == 0
    return root / "t" / "nn" / "last.pth"


@pytest.mark.slow
def test_dagger_labels_the_students_states_with_the_teachers_actions(teacher):
    policy = SkillPolicy(teacher)
    cfg = student_config(policy.config)
    assert not cfg.env.reference_obs and cfg.env.residual_actions == 0 and cfg.env.loop_reference
    d = Distiller(policy, cfg, buffer=1000, lr=1e-3, seed=0)
    asked, stepped = [], []
    act, step = policy.act, d.env.step
    policy.act = lambda obs: (asked.append(obs.clone()), act(obs))[1]
    d.env.step = lambda a: (stepped.append(a.clone()), step(a))[1]
    d.collect(8, beta=0.0)  # the student alone acts
    seen, moved = torch.stack(asked), torch.stack(stepped)
    # the teacher labelled exactly the states the student's actions led to ...
    assert torch.equal(seen[:, :, :OBS_SIZE].reshape(-1, OBS_SIZE), d.obs_buf)
    # ... and the worlds moved by the student's actions, not the teacher's labels
    with torch.no_grad():
        student = torch.stack([d.student_act(o).clamp(-1, 1) for o in seen])
    assert torch.allclose(moved, student, atol=1e-5)
    assert not torch.allclose(moved, d.label_buf.reshape(8, 4, -1), atol=1e-2)
    # with beta 1 the teacher's labels drive the worlds
    stepped.clear()
    d.collect(2, beta=1.0)
    assert torch.equal(torch.stack(stepped), d.label_buf[-8:].reshape(2, 4, -1))
    assert d.fit(8, 16, 8) < float((d.label_buf**2).mean())  # it fits the labels better than zero


@pytest.mark.slow
def test_distill_writes_a_policy_that_eval_and_train_take(teacher, ballplay, tmp_path, capsys):
    runs = tmp_path / "runs"
    argv = ["distill", "--teacher", str(teacher), "--run", "s", "--iterations", "2", "--steps", "4"]
    assert main([*argv, "--num-envs", "4", f"runs_dir={runs}"]) == 0
    assert "iteration 2  samples 32" in capsys.readouterr().out
    student = runs / "s" / "nn" / "last.pth"
    p = SkillPolicy(student)
    assert not p.config.env.reference_obs and p.samples == 32
    motion = str(ballplay / "lleg_style1")
    assert main(["eval", "--checkpoint", str(student), "--motion", motion, "--episodes", "1", "--steps", "5"]) == 0
    assert main(["train", "--resume-from", str(student), "--run", "ft", "--epochs", "1", f"runs_dir={runs}"]) == 0
    assert main(["distill", "--teacher", str(student), "--run", "x", f"runs_dir={runs}"]) == 2
    assert "not a tracking teacher" in capsys.readouterr().err


@pytest.mark.slow
def test_eval_trace_runs_evals_episodes(teacher, ballplay, tmp_path):
    """benchmarks/eval_trace.py replays eval's SR episodes: the same falls at the same steps."""
    motion, steps = str(ballplay / "lleg_style1"), 120
    trace = Path(__file__).resolve().parents[1] / "benchmarks" / "eval_trace.py"
    cmd = [sys.executable, str(trace), "--checkpoint", str(teacher), "--motion", motion, "--episodes", "4"]
    cmd += ["--steps", str(steps), "--json", str(tmp_path / "t.json")]
    out = subprocess.run(cmd, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    episodes = json.loads((tmp_path / "t.json").read_text())["episodes"]
    args = ["eval", "--checkpoint", str(teacher), "--motion", motion, "--episodes", "4", "--steps", str(steps)]
    assert main([*args, "--num-envs", "4", "--json", str(tmp_path / "e.json")]) == 0
    overall = json.loads((tmp_path / "e.json").read_text())["overall"]
    fell = [e["fell"] for e in episodes]
    assert sum(f is not None for f in fell) == round(overall["fall_rate"] * 4) > 0
    assert sum(f or steps for f in fell) / 4 == pytest.approx(overall["mean_episode_length"])
    for e in episodes:  # each event at a step of the episode, while it was alive
        for key in ("ball_lost", "drift_over", "fell"):
            assert e[key] is None or 1 <= e[key] <= (e["fell"] or steps)
    # the clip's bounce tops are at 0.57-0.68 m (0.96 m where it starts with the ball held); the
    # simulated ball's tops lie between the floor and the character's reach
    tops = [e["reference_apex"] for e in episodes if e["reference_apex"] is not None]
    assert tops and all(0.5 < h < 1.0 for h in tops), tops
    assert all(e["ball_apex"] is None or 0.05 < e["ball_apex"] < 2.0 for e in episodes), episodes
