"""benchmarks/ball_replay.py: a body replayed exactly cannot hold the layup's ball in one flat hand,
while a ball the data leaves on the floor stays put (the replay itself loses nothing)."""

import importlib.util
from pathlib import Path

from skillmimic.humanoid import build_model
from skillmimic.motion import MotionLibrary

spec = importlib.util.spec_from_file_location(
    "ball_replay", Path(__file__).resolve().parents[1] / "benchmarks" / "ball_replay.py"
)
ball_replay = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ball_replay)


def test_resting_ball_stays_and_the_layups_held_ball_falls(ballplay):
    model = build_model()
    pick = MotionLibrary.load(ballplay / "pick_40" / "001_007pickle_pick_000.pt")
    qpos, qvel, held = ball_replay.clip_states(pick, 0)
    assert not held[0] and qpos[0, -5] < 0.2  # the clip starts with the ball on the floor
    assert ball_replay.steps_held(model, qpos, qvel, 0, 2) == ball_replay.HORIZON

    (row,) = ball_replay.replay(MotionLibrary.load(ballplay / "layup"), every=16)
    assert row["skill"] == 31 and row["starts"] >= 7
    assert row["median_steps"] < 15 and row["kept_half_second"] == 0.0
