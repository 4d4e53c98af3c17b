import json

import mujoco
import numpy as np
import pytest
import torch

from skillmimic import rotations as rot
from skillmimic.cli import main
from skillmimic.humanoid import build_model
from skillmimic.kinematics import forward_kinematics
from skillmimic.motion import MotionLibrary
from skillmimic.motion.ballplay import read_ballplay
from skillmimic.sim.state import SimState, state_to_qpos_qvel

# BallPlay-M folder -> skill id: the first three characters of each clip file name
FOLDER_SKILL = {
    "pick_40": 1,
    "rebound": 2,
    "catch": 3,
    "pass": 4,
    "shot_style1": 5,
    "shot_style2": 6,
    "shot_style3": 7,
    "lrun": 11,
    "rrun": 12,
    "run": 13,
    "turnhook": 23,
    "layup": 31,
    "turnlayup": 34,
    "rturn2lhand": 40,
    "back": 41,
    "turn": 42,
    "legturn": 43,
    "lleg_style1": 44,
    "lleg_style2": 45,
}


def test_inspect_lists_all_clips_with_skill_ids(ballplay, capsys):
    assert main(["data", "inspect", str(ballplay), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["totals"]["clips"] == 101 and len(rep["clips"]) == 101
    for c in rep["clips"]:
        folder = c["file"].split("/")[-2]
        assert c["skill_id"] == FOLDER_SKILL[folder], c["file"]
        assert c["fps"] == 60 and c["seconds"] == round(c["frames"] / 60, 3)
    assert rep["totals"]["frames"] == sum(c["frames"] for c in rep["clips"]) == 14826
    # deterministic, documented order: sorted by relative path
    rel = [c["file"].split("ballplay-m/")[1] for c in rep["clips"]]
    assert rel == sorted(rel)


def test_inspect_by_dataset_name(capsys, data_dir):
    assert main(["data", "inspect", "ballplay-m/layup"]) == 0
    out = capsys.readouterr().out
    assert "031 layup" in out and "161" in out and "total: 1 clips" in out


def test_forward_kinematics_matches_recorded_body_positions(library):
    err = (library.frames.body_pos - library.recorded_body_pos).norm(dim=-1)
    mean = err.mean().item()
    print(
        f"\nFK of converted joints vs recorded body positions over {library.num_frames} BallPlay-M "
        f"frames: mean {100 * mean:.2f} cm, 95th pct {100 * err.quantile(0.95).item():.2f} cm"
    )
    assert mean < 0.04


def test_raw_rotvec_as_hinge_angles_is_worse(library, ballplay):
    # The conversion matters: feeding rotation vectors straight to the hinges (upstream) is off by more.
    raw = torch.load(ballplay / "layup/031_015pickle_layup_001_001.pt", map_location="cpu", weights_only=True)
    clip = read_ballplay(ballplay / "layup/031_015pickle_layup_001_001.pt")
    pos_raw, _ = forward_kinematics(clip.root_pos, clip.root_rot, raw[:, 9:165])
    pos_ours, _ = forward_kinematics(clip.root_pos, clip.root_rot, clip.dof_pos)
    e_raw = (pos_raw - clip.body_pos).norm(dim=-1).mean()
    e_ours = (pos_ours - clip.body_pos).norm(dim=-1).mean()
    assert e_ours < 0.04 < e_raw


def test_torch_fk_matches_mujoco(library):
    model = build_model()
    data = mujoco.MjData(model)
    idx = torch.arange(0, library.num_frames, 997)
    ref = library.frames.index(idx)
    qpos, _ = state_to_qpos_qvel(SimState.from_motion(ref))
    for i in range(len(idx)):
        data.qpos[:] = qpos[i].double().numpy()
        mujoco.mj_kinematics(model, data)
        np.testing.assert_allclose(data.xpos[1:54], ref.body_pos[i].numpy(), atol=2e-5)
        q = torch.from_numpy(data.xquat[1:54].copy()).float()
        assert rot.quat_angle(rot.quat_mul(q, rot.quat_conj(ref.body_rot[i]))).max() < 1e-3


def test_library_lookup_and_velocities(library):
    assert library.num_clips == 101
    c = library.names.index("031_015pickle_layup_001_001")
    assert library.skill_ids[c] == 31 and library.lengths[c] == 161
    clip_ids = torch.tensor([c, c, c])
    s = library.get(clip_ids, torch.tensor([0, 80, 500]))  # 500 is clamped to the last frame
    row = library.starts[c]
    assert torch.equal(s.root_pos[1], library.frames.root_pos[row + 80])
    assert torch.equal(s.root_pos[2], library.frames.root_pos[row + 160])
    # velocity is the central difference of positions
    p = library.frames.root_pos
    assert torch.allclose(s.root_vel[1], (p[row + 81] - p[row + 79]) * 30.0, atol=1e-4)
    # root quaternions are sign-continuous within the clip
    q = library.frames.root_rot[row : row + 161]
    assert ((q[1:] * q[:-1]).sum(-1) > 0).all()
    # world-frame angular velocity integrates the rotation: q(t+1) ~ exp(w dt) q(t)
    w = library.frames.root_ang_vel[row + 80]
    q_pred = rot.quat_mul(rot.quat_from_rotvec(w / 60.0), q[80])
    assert rot.quat_angle(rot.quat_mul(q_pred, rot.quat_conj(q[81]))) < 0.02


def test_explicit_skill_label(ballplay):
    lib = MotionLibrary.load(ballplay / "layup", skill=13)
    assert lib.skill_ids.tolist() == [13] and lib.skill_names == ["dribble_forward"]


@pytest.mark.slow
def test_ball_retargeting_meets_the_hands(library, ballplay):
    from skillmimic.motion.retarget import CLEARANCE, TOUCH_DEPTH, hand_ball_distance

    raw = MotionLibrary.load(ballplay, retarget=False)
    f = library.frames
    assert torch.equal(f.body_pos, raw.frames.body_pos)  # the body motion is untouched
    assert torch.equal(library.recorded_ball_pos, raw.frames.ball_pos)
    before, _ = hand_ball_distance(raw.frames.body_pos, raw.frames.body_rot, raw.frames.ball_pos)
    after, _ = hand_ball_distance(f.body_pos, f.body_rot, f.ball_pos)
    contact = f.contact > 0
    on_floor = f.ball_pos[:, 2] <= 0.12 - TOUCH_DEPTH + 1e-6  # the floor clamp may keep a ball off the hand
    nearest = after.min(dim=1).values
    # every contact frame touches a hand, most at exactly the touch depth (the rest are held
    # between two hands); most frames without contact clear the hands (a ball flagged free but
    # inside both hands cannot be freed by moving it)
    assert (nearest[contact & ~on_floor] < 0).all()
    assert ((nearest[contact] + TOUCH_DEPTH).abs() < 2e-4).float().mean() > 0.75
    assert (nearest[~contact] >= CLEARANCE - 2e-4).float().mean() > 0.95
    assert (before.min(dim=1).values[contact] < 0).float().mean() < 0.8
    moved = (f.ball_pos - raw.frames.ball_pos).norm(dim=-1)
    print(
        f"\nball retargeting: moved {100 * moved.mean():.2f} cm on average "
        f"(median {100 * moved.median():.2f} cm); contact frames with the ball on a hand before: "
        f"{(before.min(dim=1).values[contact] < 0).float().mean():.2%}"
    )
    assert moved.median() < 0.02


def test_motion_folder_of_symlinks_loads(ballplay, tmp_path):
    """A motion folder assembled from links (to skill folders, to single clips) loads what they point
    to; a link back up the tree is walked once."""
    mix = tmp_path / "mix"
    mix.mkdir()
    (mix / "layup").symlink_to(ballplay / "layup", target_is_directory=True)
    one = sorted((ballplay / "pass").glob("*.pt"))[0]
    (mix / one.name).symlink_to(one)
    (mix / "layup_again").mkdir()
    (mix / "layup_again" / "up").symlink_to(mix, target_is_directory=True)  # a cycle
    layups = MotionLibrary.load(ballplay / "layup")
    lib = MotionLibrary.load(mix)
    assert lib.num_clips == layups.num_clips + 1
    assert sorted(set(lib.skill_ids.tolist())) == [4, 31]
    assert lib.num_frames == layups.num_frames + len(read_ballplay(one).root_pos)
