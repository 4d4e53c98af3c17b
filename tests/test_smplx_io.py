"""SMPL-X in and out (``data convert``, ``export``), with a synthetic SMPL-X model made here.

The model has SMPL-X's keys, joint tree and vertex count, one vertex cluster per joint (skinned to
that joint alone) and a rest skeleton equal to our humanoid's, shifted so the pelvis is off the
origin: the forward pass of ``smplx`` then has to land every joint exactly on our forward kinematics,
which checks the joint table and the axis conventions together.
"""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import torch

from skillmimic import rotations as rot
from skillmimic.cli import main
from skillmimic.humanoid import BALL_RADIUS, BODY_NAMES, BODY_OFFSETS, BODY_PARENTS, NUM_BODIES, body_index
from skillmimic.io import joint_map as jm
from skillmimic.io.object_track import mesh_contact, quat_from_matrix, sphere_contact
from skillmimic.io.resample import num_output_frames
from skillmimic.io.smplx_export import export_smplx
from skillmimic.io.smplx_import import convert_sequence, convert_to_file
from skillmimic.io.smplx_model import load_body
from skillmimic.io.track import track_from_clip
from skillmimic.kinematics import forward_kinematics
from skillmimic.motion.ballplay import read_ballplay

PELVIS = np.array([0.003, -0.35, 0.012])  # where the synthetic model's pelvis rests (SMPL-X-like)
CLIP = "layup/031_015pickle_layup_001_001.pt"


def _rest_joints() -> np.ndarray:
    """SMPL-X's 55 rest joints [55, 3] placed on our humanoid's rest skeleton (y-up)."""
    rest = np.zeros((NUM_BODIES, 3))
    for b in range(1, NUM_BODIES):
        rest[b] = rest[BODY_PARENTS[b]] + BODY_OFFSETS[b]
    joints = np.zeros((jm.NUM_SMPLX_JOINTS, 3))
    for b, j in enumerate(jm.SMPLX_OF_BODY):
        if j >= 0:
            joints[j] = rest[b]
    joints[22:25] = joints[15] + [[0.0, 0.0, 0.06], [0.03, 0.06, 0.08], [-0.03, 0.06, 0.08]]  # jaw, eyes
    return joints + PELVIS


def write_synthetic_model(path, seed: int = 0, num_vertices: int = 10475) -> np.ndarray:
    """An ``SMPLX_NEUTRAL.npz`` with random small clusters around ``_rest_joints()``; returns the joints."""
    rng = np.random.default_rng(seed)
    joints = _rest_joints()
    owner = np.arange(num_vertices) % jm.NUM_SMPLX_JOINTS
    radius = np.where(owner >= 25, 0.012, 0.04)  # finger clusters are small
    u = rng.normal(size=(num_vertices, 3))
    v = joints[owner] + radius[:, None] * u / np.linalg.norm(u, axis=1, keepdims=True)
    for j in range(jm.NUM_SMPLX_JOINTS):  # each cluster centred exactly on its joint
        v[owner == j] += joints[j] - v[owner == j].mean(0)
    weights = np.eye(jm.NUM_SMPLX_JOINTS)[owner]
    faces = np.concatenate([np.flatnonzero(owner == j)[:180].reshape(-1, 3) for j in range(jm.NUM_SMPLX_JOINTS)])
    np.savez_compressed(
        path,
        v_template=v.astype(np.float32),
        f=faces.astype(np.int64),
        J_regressor=(weights.T / weights.sum(0)[:, None]).astype(np.float32),
        weights=weights.astype(np.float32),
        kintree_table=np.stack([np.array(jm.SMPLX_PARENTS), np.arange(jm.NUM_SMPLX_JOINTS)]).astype(np.int64),
        shapedirs=(0.005 * rng.normal(size=(num_vertices, 3, 20))).astype(np.float32),
        posedirs=np.zeros((num_vertices, 3, 486), np.float32),
        hands_componentsl=np.linalg.qr(rng.normal(size=(45, 45)))[0],
        hands_componentsr=np.linalg.qr(rng.normal(size=(45, 45)))[0],
        hands_meanl=0.1 * rng.normal(size=45),
        hands_meanr=0.1 * rng.normal(size=45),
        lmk_faces_idx=np.zeros(51, np.int64),
        lmk_bary_coords=np.full((51, 3), 1.0 / 3.0),
    )
    return joints


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("smplx_model") / "models"
    (d / "smplx").mkdir(parents=True)
    write_synthetic_model(d / "smplx" / "SMPLX_NEUTRAL.npz")
    return d


def _smooth(fps: float, seconds: float = 1.0) -> dict[str, np.ndarray]:
    """A smooth made-up motion in the separate-array layout (y-up), sampled at ``fps``."""
    t = np.arange(round(seconds * fps) + 1)[:, None] / fps
    k = np.arange(1, 64)[None] / 63.0
    h = np.arange(1, 46)[None] / 45.0
    return dict(
        global_orient=np.concatenate((0.2 * np.sin(2 * t), 0.3 * t, 0.1 * np.cos(3 * t)), axis=1),
        body_pose=0.4 * np.sin((1 + 2 * k) * t + 5 * k),
        left_hand_pose=0.3 * np.sin((1 + h) * t + h),
        right_hand_pose=0.3 * np.cos((1 + h) * t),
        transl=np.concatenate((0.5 * t, 0.1 * np.sin(3 * t), 0.02 * np.cos(t)), axis=1),
        fps=np.array(fps),
    )


def _geodesic(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return rot.quat_angle(rot.quat_mul(rot.quat_conj(a), b))


def _joints(clip: torch.Tensor) -> torch.Tensor:
    return rot.quat_from_rotvec(clip[:, 9:165].double().reshape(-1, 52, 3))


def test_smplx_loads_the_synthetic_model(model_dir):
    body = load_body(model_dir)
    assert body.model.v_template.shape == (10475, 3)
    assert torch.allclose(body.pelvis_rest(torch.zeros(10, dtype=torch.float64)), torch.tensor(PELVIS), atol=1e-6)
    owner = np.arange(10475) % jm.NUM_SMPLX_JOINTS
    assert len(body.hand_vertices) == np.isin(owner, jm.HAND_JOINTS).sum() > 32 * 180
    assert len(body.foot_vertices) == np.isin(owner, jm.FOOT_JOINTS).sum() > 4 * 180


def test_joint_table_keeps_the_tree():
    """Every mapped body's nearest mapped ancestor is its SMPL-X joint's parent; each SMPL-X joint
    but the jaw and eyes is used once."""
    for b in range(1, NUM_BODIES):
        if jm.SMPLX_OF_BODY[b] < 0:
            assert BODY_NAMES[b] == jm.UNMAPPED
            continue
        p = BODY_PARENTS[b]
        while jm.SMPLX_OF_BODY[p] < 0:
            p = BODY_PARENTS[p]
        assert jm.SMPLX_PARENTS[jm.SMPLX_OF_BODY[b]] == jm.SMPLX_OF_BODY[p], BODY_NAMES[b]
    used = sorted(j for j in jm.SMPLX_OF_BODY if j >= 0)
    assert used == [j for j in range(55) if j not in (22, 23, 24)]


@pytest.mark.slow
def test_round_trip_ballplay_clip(ballplay, model_dir, tmp_path):
    """clip -> SMPL-X (+ ball) -> clip: the same joint rotations, root and ball tracks; and the
    ``smplx`` joints land on our forward kinematics."""
    src = ballplay / CLIP
    npz = export_smplx(track_from_clip(str(src)), tmp_path / "clip.npz", model_dir)
    back, conv = convert_to_file(npz, tmp_path / "031_back.pt", model_dir=model_dir, object_track=npz, ground=False)
    a = torch.load(src, map_location="cpu", weights_only=True).double()
    b = torch.load(back, weights_only=True).double()
    assert a.shape == b.shape and conv.sequence.up == "z"
    assert (a[:, 0:3] - b[:, 0:3]).abs().max() < 1e-5
    root = _geodesic(rot.quat_from_rotvec(a[:, 3:6]), rot.quat_from_rotvec(b[:, 3:6]))
    assert root.max() < 1e-4 and torch.equal(b[:, 3:6], b[:, 6:9])
    # Chest has no SMPL-X joint: its rotation travels in its children; the rest is copied
    err = _geodesic(_joints(a), _joints(b)).max(0).values
    chest = [body_index(n) - 1 for n in ("Chest", "Neck", "L_Thorax", "R_Thorax")]
    assert err[[j for j in range(52) if j not in chest]].max() < 1e-4
    assert _geodesic(jm.fold_unmapped(_joints(a)), _joints(b)).max() < 1e-4
    clip_a, clip_b = read_ballplay(src), read_ballplay(back)
    _, world_a = forward_kinematics(clip_a.root_pos.double(), clip_a.root_rot.double(), clip_a.dof_pos.double())
    pos_b, world_b = forward_kinematics(clip_b.root_pos.double(), clip_b.root_rot.double(), clip_b.dof_pos.double())
    others = [i for i in range(NUM_BODIES) if BODY_NAMES[i] != "Chest"]
    assert _geodesic(world_a[:, others], world_b[:, others]).max() < 1e-4
    # recorded bodies come from the smplx forward pass; on our rest skeleton they match our FK
    assert (pos_b[:, others] - clip_b.body_pos.double()[:, others]).norm(dim=-1).max() < 1e-4
    assert (a[:, 324:330] - b[:, 324:330]).abs().max() < 1e-5
    # ground alignment: the same track shifted so the lowest foot vertex is at z = 0
    grounded = convert_sequence(npz, model_dir, object_track=npz)
    assert grounded.ground_shift != 0.0
    shift = b[:, 0:3] - grounded.tensor[:, 0:3].double()
    assert torch.allclose(shift, torch.tensor([0.0, 0.0, grounded.ground_shift], dtype=torch.float64), atol=1e-5)
    # y-up export of the same clip converts to the same clip
    npz_y = export_smplx(track_from_clip(str(src)), tmp_path / "clip_y.npz", model_dir, up="y")
    y = convert_sequence(npz_y, model_dir, object_track=npz_y, ground=False)
    assert y.sequence.up == "y" and (y.tensor.double() - b).abs().max() < 1e-5


@pytest.mark.slow
def test_resampling_120_fps_gives_the_60_fps_clip(model_dir, tmp_path):
    clips = {}
    for fps in (60, 120, 100):
        np.savez(tmp_path / f"s{fps}.npz", **_smooth(fps))
        clips[fps] = convert_sequence(tmp_path / f"s{fps}.npz", model_dir).tensor.double()
    assert len(clips[60]) == len(clips[120]) == len(clips[100]) == num_output_frames(121, 120) == 61
    assert (clips[120] - clips[60]).abs().max() < 1e-5  # every second frame, exactly
    # 100 fps: every output frame is interpolated (slerp, lerp) between two input frames
    assert _geodesic(_joints(clips[100]), _joints(clips[60])).max() < 2e-3
    assert (clips[100][:, 165:324] - clips[60][:, 165:324]).abs().max() < 2e-3


@pytest.mark.slow
def test_pca_hands_and_the_hand_mean(model_dir, tmp_path):
    """PCA coefficients (mean added, as ``smplx`` does) equal the same full poses given flat."""
    body = load_body(model_dir)
    seq = _smooth(60)
    coeffs = np.random.default_rng(1).normal(size=(len(seq["transl"]), 6))
    full = {
        key: coeffs @ body.hands_components[side][:6] + body.hands_mean[side]
        for side, key in enumerate(("left_hand_pose", "right_hand_pose"))
    }
    np.savez(tmp_path / "pca.npz", **(seq | {"left_hand_pose": coeffs, "right_hand_pose": coeffs}))
    np.savez(tmp_path / "full.npz", **(seq | full | {"flat_hand_mean": True}))
    pca = convert_sequence(tmp_path / "pca.npz", model_dir)
    assert pca.sequence.hands == "PCA (6 components) + mean"
    assert (pca.tensor - convert_sequence(tmp_path / "full.npz", model_dir).tensor).abs().max() < 1e-5


def _still(n: int = 8) -> dict[str, np.ndarray]:
    """The rest pose (T-pose, y-up, palms down) held for ``n`` frames at 60 fps."""
    return dict(
        global_orient=np.zeros((n, 3)), body_pose=np.zeros((n, 63)), transl=np.zeros((n, 3)), fps=np.array(60.0)
    )


@pytest.mark.parametrize(
    "case, joint, below, expected",
    [
        ("ball in the palm", "left_middle1", 0.012, 1),
        ("ball 5 cm away", "left_middle1", 0.012 + 0.05, 0),
        ("ball under the foot", "left_foot", 0.04, 0),
    ],
)
@pytest.mark.slow
def test_contact_from_geometry(model_dir, tmp_path, case, joint, below, expected):
    """Hand vertices within the tolerance of the ball's surface make contact; feet never do."""
    joints = _rest_joints()
    np.savez(tmp_path / "seq.npz", **_still())
    centre = joints[jm.SMPLX_JOINTS.index(joint)] - [0.0, below + BALL_RADIUS, 0.0]  # under it, y-up
    np.save(tmp_path / "ball.npy", np.tile(np.concatenate((centre, [0.0, 0.0, 0.0])), (8, 1)))
    c = convert_sequence(tmp_path / "seq.npz", model_dir, object_track=tmp_path / "ball.npy", ground=False)
    assert c.tensor[:, 336].tolist() == [expected] * len(c.tensor), case
    # the same with the ball as a mesh (a closed icosphere of the same radius)
    import trimesh

    trimesh.creation.icosphere(subdivisions=3, radius=BALL_RADIUS).export(tmp_path / "ball.obj")
    m = convert_sequence(tmp_path / "seq.npz", model_dir, tmp_path / "ball.npy", tmp_path / "ball.obj", ground=False)
    assert m.tensor[:, 336].tolist() == [expected] * len(m.tensor), case


def test_mesh_contact_counts_points_inside_and_near():
    import trimesh

    box = trimesh.creation.box(extents=(0.2, 0.2, 0.2))
    turn = quat_from_matrix(torch.tensor(trimesh.transformations.rotation_matrix(0.7, [0, 0, 1])[:3, :3]))
    pts = torch.tensor([[[0.0, 0.0, 0.0]], [[0.0, 0.0, 0.11]], [[0.0, 0.0, 0.15]], [[0.0, 0.0, 0.25]]])
    pos = torch.tensor([[0.0, 0.0, 0.0]] * 3 + [[0.0, 0.0, 0.2]], dtype=torch.float64)
    hit = mesh_contact(pts.double(), pos, turn.expand(4, 4), box, tol=0.02)
    assert hit.tolist() == [True, True, False, True]  # inside, 1 cm off, 5 cm off, inside a moved box
    assert sphere_contact(pts.double(), pos, 0.1, 0.02).tolist() == [True, True, False, True]


def _one_line_error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_bad_inputs_are_one_line_errors(model_dir, tmp_path, capsys):
    def convert(seq, *extra, model=model_dir):
        return _one_line_error(
            capsys,
            ["data", "convert", str(seq), "--model-dir", str(model), "--out", str(tmp_path / "031_x.pt"), *extra],
        )

    good = tmp_path / "good.npz"
    np.savez(good, **_smooth(60))
    err = convert(good, model=tmp_path / "nowhere")
    assert "nowhere" in err and "SMPLX_NEUTRAL.npz" in err
    np.savez(tmp_path / "shape.npz", **(_smooth(60) | {"body_pose": np.zeros((61, 60))}))
    err = convert(tmp_path / "shape.npz")
    assert "shape.npz" in err and "'body_pose' has shape [61, 60]" in err and "[T, 63]" in err
    np.savez(tmp_path / "short.npz", **{k: v[:2] if v.ndim else v for k, v in _smooth(60).items()})
    err = convert(tmp_path / "short.npz")
    assert "short.npz" in err and "2 frames, need at least 3" in err
    nan = _smooth(60)
    nan["transl"][7, 1] = np.nan
    np.savez(tmp_path / "nan.npz", **nan)
    err = convert(tmp_path / "nan.npz")
    assert "nan.npz" in err and "'transl'" in err and "frame 7" in err
    np.save(tmp_path / "track.npy", np.zeros((50, 6)))
    err = convert(good, "--object", str(tmp_path / "track.npy"))
    assert "track.npy" in err and "50 frames" in err and "expected 61" in err
    np.savez(tmp_path / "track30.npz", pos=np.zeros((20, 3)), fps=30.0)
    err = convert(good, "--object", str(tmp_path / "track30.npz"))
    assert "track30.npz" in err and "at 30 fps" in err and "expected 31" in err
    err = convert(good, "--out", str(tmp_path / "noskill.pt"))
    assert "noskill.pt" in err and "--skill" in err
    assert not list(tmp_path.glob("*.pt"))


@pytest.mark.slow
def test_cli_convert_inspect_and_render(model_dir, tmp_path, capsys):
    """An AMASS-style z-up file at 120 fps with a 30 fps ball track -> a clip the loader, ``data
    inspect`` and ``data render`` take."""
    s = _smooth(120, 0.5)
    pose = np.concatenate([s["global_orient"], s["body_pose"], np.zeros((61, 9)), s["left_hand_pose"]], axis=1)
    pose = np.concatenate([pose, s["right_hand_pose"]], axis=1)
    amass = tmp_path / "amass.npz"
    extra = np.array({"markers": 1}, dtype=object)  # AMASS files carry pickled extras: never read
    meta = dict(betas=np.zeros(16), mocap_frame_rate=120.0, gender="neutral")
    np.savez(amass, poses=pose, trans=s["transl"], x=extra, **meta)
    t = np.arange(16)[:, None] / 30.0
    np.savez(tmp_path / "ball.npz", pos=np.concatenate((t, 0 * t, 1 + t), 1), rotvec=np.tile(t, (1, 3)), fps=30.0)
    argv = ["data", "convert", str(amass), "--model-dir", str(model_dir), "--object", str(tmp_path / "ball.npz")]
    assert main([*argv, "--skill", "layup", "--out", str(tmp_path / "clips" / "mine.pt")]) == 0
    out = capsys.readouterr().out
    assert "031_mine.pt: 31 frames at 60 fps (from 61 at 120 fps, z-up" in out
    clip = read_ballplay(tmp_path / "clips" / "031_mine.pt")
    assert clip.skill_name == "layup" and clip.num_frames == 31
    assert torch.allclose(clip.ball_pos[-1, :2], torch.tensor([0.5, 0.0]), atol=1e-5)
    assert main(["data", "inspect", str(tmp_path / "clips")]) == 0
    assert "031 layup" in capsys.readouterr().out
    video = tmp_path / "mine.mp4"
    assert (
        main(["data", "render", str(tmp_path / "clips"), "--video", str(video), "--width", "96", "--height", "64"]) == 0
    )
    assert "31 frames" in capsys.readouterr().out


def _glb(path) -> tuple[dict, bytes]:
    b = path.read_bytes()
    assert b[:4] == b"glTF" and struct.unpack("<I", b[8:12])[0] == len(b)
    n = struct.unpack("<I", b[12:16])[0]
    doc = json.loads(b[20 : 20 + n])
    return doc, b[28 + n :]


def _accessor(doc: dict, binary: bytes, i: int) -> np.ndarray:
    acc = doc["accessors"][i]
    view = doc["bufferViews"][acc["bufferView"]]
    width = {"SCALAR": 1, "VEC3": 3, "VEC4": 4}[acc["type"]]
    data = np.frombuffer(binary, np.float32, acc["count"] * width, view["byteOffset"])
    return data.reshape(acc["count"], width)


def test_export_clip_mesh_is_an_animated_gltf(ballplay, tmp_path, capsys):
    import trimesh

    glb = tmp_path / "clip.glb"
    assert main(["export", "--dataset", "--motion", str(ballplay / CLIP), "--mesh", str(glb), "--seconds", "1"]) == 0
    assert "60 frames at 60 fps" in capsys.readouterr().out
    scene = trimesh.load(glb)
    assert len(scene.geometry) == 54 and "ball" in scene.geometry
    doc, binary = _glb(glb)
    anim = doc["animations"][0]
    assert len(anim["channels"]) == 2 * 54 and doc["accessors"][anim["samplers"][0]["input"]]["count"] == 60
    # the ball's keyed translation is the clip's ball, turned to glTF's y-up: (x, y, z) -> (x, z, -y)
    ball = next(i for i, n in enumerate(doc["nodes"]) if n.get("name") == "ball")
    chan = next(c for c in anim["channels"] if c["target"] == {"node": ball, "path": "translation"})
    keyed = _accessor(doc, binary, anim["samplers"][chan["sampler"]]["output"])
    b = read_ballplay(ballplay / CLIP).ball_pos[:60].numpy()
    assert np.allclose(keyed, np.stack((b[:, 0], b[:, 2], -b[:, 1]), 1), atol=1e-5)


def test_export_needs_a_source_and_a_model_for_smplx(ballplay, tmp_path, capsys):
    err = _one_line_error(capsys, ["export", "--dataset", "--motion", str(ballplay / CLIP)])
    assert "--smplx" in err and "--mesh" in err
    err = _one_line_error(capsys, ["export", "--dataset", "--motion", str(ballplay / CLIP), "--smplx", "x.npz"])
    assert "--model-dir" in err
    err = _one_line_error(capsys, ["export", "--motion", str(ballplay / CLIP), "--mesh", str(tmp_path / "x.glb")])
    assert "--checkpoint" in err and "--dataset" in err


@pytest.mark.slow
def test_converted_clip_trains_and_its_policy_rollout_exports(model_dir, tmp_path, capsys):
    """``train`` takes a converted clip; the policy's rollout comes out as SMPL-X + ball and glTF."""
    np.savez(tmp_path / "seq.npz", **_smooth(60, 2.0))
    ball = np.concatenate((np.tile([0.4, 0.0, 0.3], (121, 1)), np.zeros((121, 3))), axis=1)
    np.save(tmp_path / "ball.npy", ball)
    motion = tmp_path / "mine"
    argv = ["data", "convert", str(tmp_path / "seq.npz"), "--model-dir", str(model_dir)]
    assert main([*argv, "--object", str(tmp_path / "ball.npy"), "--out", str(motion / "031_smooth.pt")]) == 0
    run = ["train", "--motion", str(motion), "--num-envs", "4", "--epochs", "1", "--run", "s", f"runs_dir={tmp_path}"]
    assert main([*run, "ppo.units=[64,64]"]) == 0
    ckpt = tmp_path / "s" / "nn" / "last.pth"
    capsys.readouterr()
    npz, glb = tmp_path / "roll.npz", tmp_path / "roll.glb"
    argv = ["export", "--checkpoint", str(ckpt), "--motion", str(motion), "--seconds", "0.5", "--skill", "layup"]
    assert main([*argv, "--smplx", str(npz), "--model-dir", str(model_dir), "--mesh", str(glb)]) == 0
    assert "30 frames at 60 fps" in capsys.readouterr().out
    with np.load(npz) as f:
        assert f["poses"].shape == (30, 165) and f["trans"].shape == f["ball_pos"].shape == (30, 3)
        assert float(f["mocap_frame_rate"]) == 60.0 and str(f["up"]) == "z" and str(f["gender"]) == "neutral"
        assert np.array_equal(f["poses"][:, :3], f["global_orient"]) and np.array_equal(f["trans"], f["transl"])
    # the rollout's SMPL-X file converts back to a clip of the same length
    back = convert_sequence(npz, model_dir, object_track=npz)
    assert len(back.tensor) == 30
    assert len(_glb(glb)[0]["animations"][0]["channels"]) == 108


class _Payload:
    """Unpickling this runs code: it creates ``path`` (the marker a hostile model file would leave)."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_model_file_with_a_pickled_object_is_refused_before_any_code_runs(tmp_path, capsys):
    """``smplx`` opens model files with pickles allowed; ours never hands it one that holds an object."""
    d = tmp_path / "models" / "smplx"
    d.mkdir(parents=True)
    write_synthetic_model(d / "SMPLX_NEUTRAL.npz")
    marker = tmp_path / "pwned"
    with np.load(d / "SMPLX_NEUTRAL.npz") as good:
        arrays = dict(good)
    np.savez(d / "SMPLX_NEUTRAL.npz", **arrays, extra=np.array([_Payload(marker)], dtype=object))
    before = (d / "SMPLX_NEUTRAL.npz").read_bytes()
    seq = tmp_path / "seq.npz"
    np.savez(seq, **_smooth(60))
    argv = ["data", "convert", str(seq), "--model-dir", str(tmp_path / "models"), "--out", str(tmp_path / "031_x.pt")]
    err = _one_line_error(capsys, argv)
    assert "SMPLX_NEUTRAL.npz" in err and "Python objects" in err
    assert not marker.exists() and (d / "SMPLX_NEUTRAL.npz").read_bytes() == before
    assert not (tmp_path / "031_x.pt").exists()
    # the payload is real: numpy with pickles allowed (what smplx does) runs it
    with np.load(d / "SMPLX_NEUTRAL.npz", allow_pickle=True) as data:
        data["extra"]
    assert marker.exists()


def test_a_failed_conversion_leaves_the_existing_clip_alone(model_dir, tmp_path, capsys):
    clip = tmp_path / "031_take.pt"
    clip.write_bytes(b"a good clip from before")
    far = _smooth(60)  # converts, but the clip loader refuses a body 1e6 m away: after the conversion
    far["transl"][:, 0] += 1e6
    np.savez(tmp_path / "far.npz", **far)
    argv = ["data", "convert", str(tmp_path / "far.npz"), "--model-dir", str(model_dir), "--out", str(clip)]
    assert "beyond" in _one_line_error(capsys, argv)
    assert clip.read_bytes() == b"a good clip from before"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no scratch left


def test_a_frame_rate_that_would_resample_to_billions_of_frames_is_refused(model_dir, tmp_path, capsys):
    np.savez(tmp_path / "seq.npz", **_smooth(60))
    argv = ["data", "convert", str(tmp_path / "seq.npz"), "--model-dir", str(model_dir), "--fps-in", "1e-6"]
    err = _one_line_error(capsys, [*argv, "--out", str(tmp_path / "031_x.pt")])
    assert "seq.npz" in err and "at most 216,000" in err
