"""High-level tasks as pure functions: rewards and success tests by hand, heading invariance of the
task observations, and the ballistic landing prediction against a simulated throw."""

import math

import pytest
import torch

from skillmimic import rotations as rot
from skillmimic.sim.factory import make_simulator
from skillmimic.sim.state import standing_state
from skillmimic.tasks import TASKS, circling, heading, scoring, throwing
from skillmimic.tasks.common import TaskState


def _state(n=1, ball=(0.0, 0.0, 1.0), ball_vel=(0.0, 0.0, 0.0), root_vel=(1.0, 0.0, 0.0), yaw=0.0, contact=False):
    up = torch.tensor([[0.5**0.5, 0.5**0.5, 0.0, 0.0]])  # the standing humanoid's root
    root_rot = rot.quat_mul(rot.yaw_quat(torch.full((1,), yaw)), up)
    return TaskState(
        root_pos=torch.tensor([[0.0, 0.0, 0.9]]).repeat(n, 1),
        root_rot=root_rot.repeat(n, 1),
        root_vel=torch.tensor([root_vel]).repeat(n, 1),
        ball_pos=torch.tensor([ball]).repeat(n, 1),
        ball_vel=torch.tensor([ball_vel]).repeat(n, 1),
        ball_contact=torch.full((n,), contact),
    )


def test_heading_reward_and_success_by_hand():
    t = {"goal": torch.tensor([[3.0, 4.0]]), "success": torch.zeros(1, dtype=torch.bool)}
    at_goal = _state(ball=(3.0, 4.0, 1.0))
    assert float(heading.reward(at_goal, t)) == pytest.approx(1.0)
    assert heading.advance(at_goal, t)["success"].item()
    far = _state(ball=(0.0, 0.0, 1.0))  # 5 m away
    assert float(heading.reward(far, t)) == pytest.approx(math.exp(-5.0))
    assert not heading.advance(far, t)["success"].item()
    # latched: once reached, leaving the goal keeps the success
    assert heading.advance(far, heading.advance(at_goal, t))["success"].item()


def test_circling_reward_and_a_lap_by_hand():
    s = _state(ball=(3.0, 0.0, 0.5), ball_vel=(0.0, 2.0, 0.0))
    t = circling.sample(s, torch.Generator().manual_seed(0))
    t = {**t, "centre": torch.zeros(1, 2), "radius": torch.tensor([3.0]), "angle": torch.zeros(1)}
    assert float(circling.reward(s, t)) == pytest.approx(1.0)
    slow = _state(ball=(3.5, 0.0, 0.5), ball_vel=(0.0, 0.1, 0.0))
    assert float(circling.reward(slow, t)) == pytest.approx(0.1 * math.exp(-0.5))
    # a ball carried once around the circle: success after the full turn, not before
    for k in range(1, 41):
        a = 2 * math.pi * k / 40
        t = circling.advance(_state(ball=(3 * math.cos(a), 3 * math.sin(a), 0.5)), t)
        assert t["success"].item() == (k == 40)
    # the same lap far off the circle does not count
    t2 = {
        **t,
        "swept": torch.zeros(1),
        "on": torch.zeros(1),
        "steps": torch.zeros(1),
        "success": torch.zeros(1, dtype=torch.bool),
    }
    for k in range(1, 41):
        a = 2 * math.pi * k / 40
        t2 = circling.advance(_state(ball=(1.0 * math.cos(a), 1.0 * math.sin(a), 0.5)), t2)
    assert not t2["success"].item()


def test_throwing_reward_and_success_by_hand():
    t = throwing.sample(_state(), torch.Generator())
    assert float(throwing.reward(_state(ball=(0, 0, 2.5)), t)) == pytest.approx(1.0)
    assert float(throwing.reward(_state(ball=(0, 0, 1.0)), t)) == pytest.approx(math.exp(-1.5))
    assert throwing.advance(_state(ball=(0, 0, 2.6)), t)["success"].item()
    assert not throwing.advance(_state(ball=(0, 0, 2.4)), t)["success"].item()


def test_scoring_landing_reached_and_reward_by_hand():
    # ball at 3 m rising 1 m/s, moving 2 m/s in x: it comes down through 2 m at t = (1 + sqrt(1 + 19.6)) / 9.8
    xy, ok = scoring.landing(torch.tensor([[0.0, 0.0, 3.0]]), torch.tensor([[2.0, 0.0, 1.0]]))
    t_down = (1 + math.sqrt(1 + 2 * 9.8 * 1.0)) / 9.8
    assert ok.item() and xy[0, 0].item() == pytest.approx(2 * t_down) and xy[0, 1].item() == pytest.approx(0.0)
    # a ball below 2 m moving down never comes down through 2 m (upstream used the ground instead)
    assert not scoring.landing(torch.tensor([[0.0, 0.0, 1.0]]), torch.tensor([[1.0, 0.0, -1.0]]))[1].item()
    goal = xy.clone()
    t = {"goal": goal, "success": torch.zeros(1, dtype=torch.bool)}
    free = _state(ball=(0.0, 0.0, 3.0), ball_vel=(2.0, 0.0, 1.0))
    assert scoring.advance(free, t)["success"].item()
    held = _state(ball=(0.0, 0.0, 3.0), ball_vel=(2.0, 0.0, 1.0), contact=True)
    assert not scoring.advance(held, t)["success"].item()
    # reward at the hoop, reached, root moving: exp(0) + 1 + 0.2
    at_hoop = _state(ball=(float(goal[0, 0]), float(goal[0, 1]), 2.5))
    assert float(scoring.reward(at_hoop, {**t, "success": torch.ones(1, dtype=torch.bool)})) == pytest.approx(2.2)
    standing = _state(ball=(float(goal[0, 0]), float(goal[0, 1]), 2.5), root_vel=(0.0, 0.0, 0.0))
    assert float(scoring.reward(standing, t)) == pytest.approx(0.1 * 1.2)


def test_landing_prediction_matches_a_simulated_throw():
    sim = make_simulator("mujoco", 1)
    state = standing_state(1, ball_xy=(10.0, 0.0))
    state.ball_pos = torch.tensor([[10.0, 0.0, 2.2]])
    state.ball_vel = torch.tensor([[1.5, -0.8, 3.0]])
    sim.set_state(torch.zeros(1, dtype=torch.long), state)
    predicted, ok = scoring.landing(state.ball_pos, state.ball_vel)
    assert ok.item()
    zero_actions = torch.zeros(1, 156)
    prev = sim.state()
    for _ in range(200):
        sim.step(zero_actions)
        now = sim.state()
        if prev.ball_pos[0, 2] >= 2.0 > now.ball_pos[0, 2]:
            break
        prev = now
    w = (prev.ball_pos[0, 2] - 2.0) / (prev.ball_pos[0, 2] - now.ball_pos[0, 2])
    crossing = prev.ball_pos[0, :2] + w * (now.ball_pos[0, :2] - prev.ball_pos[0, :2])
    torch.testing.assert_close(crossing, predicted[0], atol=0.02, rtol=0)


@pytest.mark.parametrize("name", sorted(TASKS))
def test_task_observations_are_heading_invariant(name):
    task = TASKS[name]
    gen = torch.Generator().manual_seed(3)
    n = 4
    s = TaskState(
        root_pos=torch.randn(n, 3, generator=gen),
        root_rot=rot.normalize(torch.randn(n, 4, generator=gen)),
        root_vel=torch.randn(n, 3, generator=gen),
        ball_pos=torch.randn(n, 3, generator=gen),
        ball_vel=torch.randn(n, 3, generator=gen),
        ball_contact=torch.zeros(n, dtype=torch.bool),
    )
    t = task.sample(s, gen)
    if "centre" in t:  # a circle starts centred on the root, where the bearing is undefined
        t["centre"] = t["centre"] + torch.tensor([1.5, -0.5])
    yaw, shift = torch.tensor(1.1), torch.tensor([2.0, -3.0, 0.0])
    q = rot.yaw_quat(yaw).expand(n, 4)
    moved = TaskState(
        root_pos=rot.quat_rotate(q, s.root_pos) + shift,
        root_rot=rot.quat_mul(q, s.root_rot),
        root_vel=rot.quat_rotate(q, s.root_vel),
        ball_pos=rot.quat_rotate(q, s.ball_pos) + shift,
        ball_vel=rot.quat_rotate(q, s.ball_vel),
        ball_contact=s.ball_contact,
    )
    t_moved = dict(t)
    for key in ("goal", "centre"):
        if key in t:
            p = torch.cat((t[key], torch.zeros(n, 1)), dim=1)
            t_moved[key] = (rot.quat_rotate(q, p) + shift)[:, :2]
    obs = task.observe(s, t)
    assert obs.shape == (n, task.OBS_SIZE)
    torch.testing.assert_close(task.observe(moved, t_moved), obs, atol=1e-5, rtol=0)
    torch.testing.assert_close(task.reward(moved, t_moved), task.reward(s, t), atol=1e-5, rtol=0)


def test_scripted_heading_controller_turns_toward_the_goal():
    scripted_heading = heading.scripted
    bearing = torch.tensor([0.0, 1.0, -1.0, 3.0, -0.2])
    obs = torch.stack((torch.ones(5), torch.ones(5), torch.cos(bearing), torch.sin(bearing)), dim=1)
    assert scripted_heading(obs).tolist() == [1, 2, 0, 2, 1]  # forward, left, right, left, forward
    assert [heading.SKILLS[i] for i in (0, 1, 2)] == [12, 13, 11]  # right, forward, left


def test_task_env_runs_the_skill_policy_llc_steps_times_per_step(dribble_llc):
    from skillmimic.envs.factory import policy_motion, task_env
    from skillmimic.envs.task_env import BODY_OBS, TaskEnvConfig
    from skillmimic.policy import load_policy

    motion, ckpt = dribble_llc
    llc = load_policy(str(ckpt), "cpu", "mujoco")
    lib = policy_motion(llc, motion)
    env = task_env(heading, llc, lib, 3, TaskEnvConfig(llc_steps=3, episode_length=30, fall_height=0.25))
    # the same worlds one control step at a time: the reward of a 3-step window is their mean
    single = task_env(heading, llc, lib, 3, TaskEnvConfig(llc_steps=1, episode_length=30, fall_height=0.25))
    obs = env.reset()
    single.reset()
    assert obs.shape == (3, BODY_OBS + heading.OBS_SIZE) == (3, env.num_obs) and (env.env.progress == 0).all()
    actions = torch.tensor([0, 1, 2])
    obs, reward, done, info = env.step(actions)
    assert env.llc_calls == 3 and (env.env.progress == 3).all()
    assert torch.equal(env.env.skill, torch.tensor([12, 13, 11]))  # the LLC was conditioned on the choices
    rewards = [single.step(actions)[1] for _ in range(3)]
    torch.testing.assert_close(reward, torch.stack(rewards).mean(0))
    torch.testing.assert_close(env.goals["goal"], single.goals["goal"])
    assert (reward > 0).all() and (reward <= 1).all()
    ended = done.clone()
    for _ in range(9):
        obs, reward, done, info = env.step(actions)
        ended |= done
    assert env.llc_calls == 30 and ended.all()  # 30 control steps: every episode ended by step 10


@pytest.mark.slow
def test_eval_task_with_the_scripted_controller(dribble_llc, tmp_path, capsys):
    import json

    from skillmimic.cli import main

    motion, ckpt = dribble_llc
    out = tmp_path / "task.json"
    args = ["eval", "--task", "heading", "--llc", str(ckpt), "--scripted", "--episodes", "4", "--steps", "45"]
    assert main([*args, "--num-envs", "4", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "task heading (scripted controller" in text and "success" in text
    r = json.loads(out.read_text())
    assert r["episodes"] == 4 and r["steps"] == 45 and r["llc_steps"] == heading.CONFIG.llc_steps
    assert f"success {100 * r['success_rate']:.1f}%" in text and f"falls {100 * r['fall_rate']:.1f}%" in text
    for rate in (r["success_rate"], r["fall_rate"]):
        assert 4 * rate == pytest.approx(round(4 * rate))  # a count of the 4 episodes
    # seeded: the same command gives the same report
    assert main([*args, "--num-envs", "4", "--json", str(tmp_path / "again.json")]) == 0
    assert json.loads((tmp_path / "again.json").read_text()) == r
    assert set(r["skill_usage"]) == {"012 dribble_right", "013 dribble_forward", "011 dribble_left"}
    assert sum(r["skill_usage"].values()) == pytest.approx(1.0, abs=1e-3)
    # a task without a scripted controller: a one-line refusal
    assert main(["eval", "--task", "throwing", "--llc", str(ckpt), "--scripted"]) == 2
    assert "no scripted controller for task 'throwing'" in capsys.readouterr().err


@pytest.mark.slow
def test_train_a_controller_eval_it_and_refuse_another_skill_policy(dribble_llc, tmp_path, capsys):
    import json
    import shutil

    from skillmimic.cli import main

    motion, ckpt = dribble_llc
    llc = tmp_path / "llc.pth"
    shutil.copy(ckpt, llc)
    args = ["train", "--task", "heading", "--llc", str(llc), "--num-envs", "8", "--epochs", "2", "--run", "hlc"]
    assert main([*args, f"runs_dir={tmp_path}", "ppo.units=[64,64]", "ppo.num_minibatches=4"]) == 0
    out = capsys.readouterr().out
    assert "epoch 2/2" in out and "task reward" in out and "skills 012:" in out
    hlc = tmp_path / "hlc" / "nn" / "last.pth"
    report = tmp_path / "hlc.json"
    assert main(["eval", "--checkpoint", str(hlc), "--episodes", "4", "--steps", "30", "--json", str(report)]) == 0
    r = json.loads(report.read_text())
    assert r["task"] == "heading" and r["controller"] == str(hlc) and r["llc"] == str(llc) and r["episodes"] == 4
    # resume continues the run (same task and skill policy from the saved config)
    assert main(["train", "--run", "hlc", "--resume", "--epochs", "1", f"runs_dir={tmp_path}"]) == 0
    from skillmimic.policy.checkpoint import load_checkpoint

    assert load_checkpoint(hlc)["epoch"] == 3
    # the skill policy file changed under the controller: refused in one line, for eval and resume
    shutil.copy(tmp_path / "hlc" / "nn" / "last.pth", llc)
    capsys.readouterr()
    assert main(["eval", "--checkpoint", str(hlc)]) == 2
    err = capsys.readouterr().err
    assert "is not the skill policy it was trained with" in err and len(err.strip().splitlines()) == 1
    assert main(["train", "--run", "hlc", "--resume", "--epochs", "1", f"runs_dir={tmp_path}"]) == 2
