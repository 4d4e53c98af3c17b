"""``play`` of a high-level controller: its task in one world, the goal drawn as markers (video and
viewer share them), goal keys, and the key-help wrapping and shortcut handling of the viewer."""

import os
import subprocess
import sys

import imageio.v2 as imageio
import mujoco
import numpy as np
import pytest
import torch

from skillmimic.cli import main
from skillmimic.envs.task_env import TaskState
from skillmimic.tasks import TASKS, circling, heading, scoring, throwing
from skillmimic.viewer.keys import GOAL_STEP, KEYS, shortcut_flags, wrap_help
from skillmimic.viewer.markers import add_markers
from skillmimic.viewer.video import fit_distance


def _green(frame: np.ndarray) -> np.ndarray:
    """Marker pixels: green well above red and blue (nothing else in the scene is green)."""
    f = frame.astype(int)
    return f[..., 1] - np.maximum(f[..., 0], f[..., 2]) > 60


@pytest.fixture(scope="module")
def controller(dribble_llc, tmp_path_factory):
    """The tiny dribbling skill policy and a heading controller trained on it for two epochs."""
    motion, llc = dribble_llc
    root = tmp_path_factory.mktemp("hlcplay")
    args = ["train", "--task", "heading", "--llc", str(llc), "--num-envs", "8", "--epochs", "2", "--run", "hlc"]
    assert main([*args, f"runs_dir={root}", "ppo.units=[64,64]", "ppo.num_minibatches=4"]) == 0
    return motion, llc, root / "hlc" / "nn" / "last.pth"


@pytest.mark.slow
def test_play_controller_video_shows_the_goal_marker(controller, tmp_path):
    _, _, hlc = controller
    video = tmp_path / "task.mp4"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "MUJOCO_GL")}
    env["PYTHONWARNINGS"] = "default"  # dependency deprecation warnings would show: they must not
    args = [sys.executable, "-m", "skillmimic", "play", "--checkpoint", str(hlc), "--video", str(video)]
    r = subprocess.run(
        [*args, "--seconds", "1", "--width", "320", "--height", "240"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"wrote {video} (60 frames, task heading)" in r.stdout
    assert "torch.jit" not in r.stderr, r.stderr[-2000:]
    frames = [f for f in imageio.get_reader(video)]  # list() asks len(): inf for ffmpeg, a MemoryError
    assert len(frames) == 60 and frames[0].shape == (240, 320, 3)
    seen = [int(_green(f).sum()) for f in frames]
    assert min(seen) > 20, f"the goal marker is missing from some frames: green pixels per frame {seen}"


@pytest.mark.slow
def test_markers_are_drawn_at_the_goal_and_goal_keys_move_it(controller):
    from skillmimic.envs.task_env import BODY_OBS
    from skillmimic.viewer.play import TaskPlayback
    from skillmimic.viewer.video import OffscreenRenderer

    _, _, hlc = controller
    pb = TaskPlayback(str(hlc), None, seconds=1.0, device="cpu", backend="mujoco")
    assert pb.period == 3 and pb.total_steps == 60 and pb.caption().startswith("task heading  skill ")
    renderer = OffscreenRenderer(pb.model, 320, 240)

    def frame(markers: bool) -> np.ndarray:
        renderer.reset_camera()
        marks = pb.markers() if markers else []
        return renderer.render(pb.data, None, extra_geoms=lambda s: add_markers(s, marks), focus=pb.focus())

    bare, marked = frame(False), frame(True)
    changed = np.abs(marked.astype(int) - bare.astype(int)).sum(axis=2) > 30
    assert not _green(bare).any() and _green(marked).sum() > 20 and not (_green(marked) & ~changed).any()
    added = (marked.astype(int) - bare.astype(int))[changed].mean(axis=0)
    assert added[1] > max(added[0], added[2]) + 30, added  # what the markers add is green
    before = np.argwhere(_green(marked)).mean(axis=0)

    # L: the goal 0.5 m along +x; the controller's next decision sees it
    goal = pb.env.goals["goal"][0].clone()
    assert pb.on_key(76) == f"goal ({goal[0] + GOAL_STEP:+.2f}, {goal[1]:+.2f})"
    torch.testing.assert_close(pb.env.goals["goal"][0], goal + torch.tensor([GOAL_STEP, 0.0]))
    pb.step()
    assert pb.steps == 1 and not pb._stale_obs and pb.obs.shape[1] == BODY_OBS + pb.task.OBS_SIZE
    after = np.argwhere(_green(frame(True))).mean(axis=0)
    assert np.abs(after - before).max() > 1.0  # the marker moved on screen
    assert pb.on_key(81) is None  # Q: a skill key, which a controller does not take
    renderer.close()


def test_task_markers_for_every_task():
    # every registered task draws its goal and keeps it in the camera's view
    state = TaskState(*(torch.zeros(2, k) for k in (3, 4, 3, 3, 3)), torch.zeros(2, dtype=torch.bool))
    state.root_rot[:, 0] = 1.0
    for name, task in TASKS.items():
        goal = {k: v[0].numpy() for k, v in task.sample(state, torch.Generator().manual_seed(0)).items()}
        marks, focus = task.markers(goal, (0.5, -1.0)), np.asarray(task.focus(goal, (0.5, -1.0)))
        assert marks and all(len(m.pos) == 3 for m in marks), name
        assert focus.ndim == 2 and focus.shape[1] == 3 and np.isfinite(focus).all(), name
    marks = heading.markers({"goal": np.array([3.0, 4.0])}, (0, 0))
    assert marks[0].pos == (3.0, 4.0, 1.0) and marks[0].end is None  # the ball's target, 1 m up
    circle = circling.markers({"centre": np.array([1.0, 2.0]), "radius": np.float32(3.0)}, (0, 0))
    assert circle[0].pos[:2] == (1.0, 2.0)
    ring_points = np.array([m.pos for m in circle[1:]])
    np.testing.assert_allclose(np.linalg.norm(ring_points[:, :2] - [1.0, 2.0], axis=1), 3.0, atol=1e-6)
    hoop = scoring.markers({"goal": np.array([-2.0, 5.0])}, (0, 0))
    rim = np.array([m.pos for m in hoop if m.end is not None and m.pos[2] == m.end[2]])
    assert len(rim) >= 12 and np.allclose(rim[:, 2], 2.5)  # the hoop: a ring 2.5 m above the goal
    assert throwing.markers({}, (0.5, -1.0))[0].pos == (0.5, -1.0, 2.5)
    heading_marks = marks
    # all of them fit a scene and are drawn as geoms there
    model = mujoco.MjModel.from_xml_string("<mujoco><worldbody/></mujoco>")
    scene = mujoco.MjvScene(model, maxgeom=200)
    assert add_markers(scene, heading_marks + circle + hoop) == scene.ngeom == len(heading_marks + circle + hoop)
    small = mujoco.MjvScene(model, maxgeom=5)
    assert add_markers(small, circle) == 5  # no more than fit


@pytest.mark.slow
def test_play_refuses_skill_options_for_a_controller(controller, capsys):
    _, _, hlc = controller
    assert main(["play", "--checkpoint", str(hlc), "--skill", "11", "--video", "x.mp4"]) == 2
    err = capsys.readouterr().err
    assert "a controller picks its own skills" in err and len(err.strip().splitlines()) == 1


def test_key_help_wraps_to_the_window_and_our_keys_hold_mujocos_shortcuts():
    entries = [f"{label} = {what}" for label, _, what, _ in KEYS]
    lines = wrap_help(entries, 40)
    assert len(lines) > 1 and all(len(line) <= 40 for line in lines)
    assert "   ".join(lines) == "   ".join(entries)  # nothing lost, order kept
    assert wrap_help(["a very long entry indeed"], 5) == ["a very long entry indeed"]
    vis, rnd = shortcut_flags([87, 73, 263])  # W wireframe, I inertia, Left: none
    assert vis == [int(mujoco.mjtVisFlag.mjVIS_INERTIA)] and rnd == [int(mujoco.mjtRndFlag.mjRND_WIREFRAME)]


def test_fit_distance_keeps_far_points_in_view():
    assert fit_distance(np.zeros((1, 3)), np.zeros(3), 45.0) == 5.0  # the character alone: 5 m
    far = fit_distance(np.array([[4.0, 0, 0], [-4.0, 0, 0]]), np.zeros(3), 45.0)
    assert far == pytest.approx(1.2 * 4.0 / np.tan(np.radians(22.5)))
    assert fit_distance(np.array([[100.0, 0, 0]]), np.zeros(3), 45.0) == 30.0


THROWAWAY = '''
"""A task from one module: get the ball to a spot 1 m ahead of the start."""
import torch

from skillmimic.skills import skill_id
from skillmimic.tasks.common import Marker, TaskConfig, cleared, local_target, point

NAME = "spot"
CONFIG = TaskConfig(episode_length=30)
SKILLS = tuple(skill_id(n) for n in ("dribble_right", "dribble_forward", "dribble_left"))
OBS_SIZE = 4
MOVABLE = "goal"


def sample(s, gen):
    goal = s.root_pos[:, :2] + torch.tensor([1.0, 0.0])
    return {"goal": goal, "success": cleared(len(goal), goal.device)}


def observe(s, t):
    return local_target(s.root_pos, s.root_rot, t["goal"])


def reward(s, t):
    return torch.exp(-(s.ball_pos[:, :2] - t["goal"]).norm(dim=1))


def advance(s, t):
    return {**t, "success": t["success"] | ((s.ball_pos[:, :2] - t["goal"]).norm(dim=1) < 0.3)}


def scripted(task_obs):
    return torch.ones(len(task_obs), dtype=torch.long)  # always dribble forward


def markers(goal, start_xy):
    return [Marker((float(goal["goal"][0]), float(goal["goal"][1]), 0.5), 0.2)]


def focus(goal, start_xy):
    return [point(goal["goal"], 0.5)]
'''


@pytest.mark.slow
def test_a_task_added_as_one_module_reaches_the_cli_task_eval_and_viewer(controller, tmp_path, monkeypatch):
    import importlib.util

    from skillmimic import tasks
    from skillmimic.cli import build_parser
    from skillmimic.eval.tasks import evaluate_task
    from skillmimic.policy.checkpoint import atomic_save, load_checkpoint
    from skillmimic.viewer.play import TaskPlayback

    _, llc, hlc = controller
    (tmp_path / "spot.py").write_text(THROWAWAY)
    spec = importlib.util.spec_from_file_location("spot", tmp_path / "spot.py")
    spot = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(spot)
    monkeypatch.setattr(tasks, "TASKS", dict(tasks.TASKS))  # the registry as it was, after the test
    assert tasks.register(spot) is spot and tasks.get_task("spot") is spot

    # the CLI offers it
    a = build_parser().parse_args(["eval", "--task", "spot", "--llc", str(llc), "--scripted"])
    assert a.task == "spot"
    # task eval runs its scripted controller (always forward) for its own episode length
    r = evaluate_task("spot", str(llc), episodes=2, num_envs=2, device="cpu", backend="mujoco")
    assert r["task"] == "spot" and r["steps"] == 30
    assert r["skill_usage"] == {"012 dribble_right": 0.0, "013 dribble_forward": 1.0, "011 dribble_left": 0.0}
    # the viewer draws its markers and frames its focus (a controller trained on heading, relabelled:
    # the same skills and observation size)
    state = load_checkpoint(hlc)
    state["skillmimic"]["task"] = state["skillmimic"]["config"]["task"]["name"] = "spot"
    atomic_save(state, tmp_path / "spot.pth")
    pb = TaskPlayback(str(tmp_path / "spot.pth"), None, seconds=0.1, device="cpu", backend="mujoco")
    goal = pb.goal()["goal"]
    assert pb.task is spot and pb.markers() == [spot.Marker((float(goal[0]), float(goal[1]), 0.5), 0.2)]
    assert pb.focus().tolist()[1] == [float(goal[0]), float(goal[1]), 0.5]
    assert pb.on_key(76).startswith("goal (")  # its MOVABLE goal moves


def test_a_task_module_missing_a_part_is_refused(tmp_path):
    import types

    from skillmimic import tasks
    from skillmimic.errors import SkillMimicError

    half = types.ModuleType("half")
    half.NAME, half.SKILLS = "half", (13,)
    with pytest.raises(SkillMimicError, match="task module half: missing OBS_SIZE, CONFIG"):
        tasks.register(half)
    assert "half" not in tasks.TASKS
