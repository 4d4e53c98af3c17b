"""``skillmimic data convert``: an SMPL-X parameter sequence (+ an object track) -> a BallPlay clip.

Input ``.npz`` layouts:

- AMASS: ``poses`` ``[T, 165]`` (55 joints x 3, full hand poses), ``trans`` ``[T, 3]``, ``betas``,
  ``mocap_frame_rate``, ``gender``; z-up unless ``--up`` (or an ``up`` key) says otherwise.
- separate arrays (SMPLify-X, most fitting code): ``global_orient`` ``[T, 3]``, ``body_pose``
  ``[T, 63]``, ``transl`` ``[T, 3]``; optional ``left_hand_pose``/``right_hand_pose`` (``[T, 45]``
  axis-angle or ``[T, k]`` PCA coefficients, k < 45), ``jaw_pose``/``leye_pose``/``reye_pose``,
  ``betas``, ``fps``, ``gender``; y-up unless told otherwise.

Hand poses are made full axis-angle with SMPL-X's flat-hand semantics: PCA coefficients are
multiplied by the model's ``hands_components``, and the model's relaxed-hand mean is added when the
file uses it: a ``flat_hand_mean`` key decides; without one, PCA poses get the mean (the ``smplx``
default, SMPLify-X's output) and full poses do not (AMASS and the Blender add-on).

Steps: resample to 60 fps (slerp for every rotation, linear for ``transl``; see ``resample``), run
the ``smplx`` forward pass, turn the file's world into our z-up world (``joint_map``), put the
lowest foot point (any SMPL-X vertex skinned to an ankle or foot, over the whole clip) at z = 0,
map joints and bodies (``joint_map``), and flag hand-object contact from geometry
(``object_track``). Without an object track the ball rests on the floor 5 m to the side of the
first frame's pelvis, never touched.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from skillmimic import rotations as rot
from skillmimic.errors import SkillMimicError
from skillmimic.humanoid import BALL_RADIUS, NUM_JOINTS
from skillmimic.io import joint_map as jm
from skillmimic.io.npz import NpzArrays, open_npz
from skillmimic.io.object_track import (
    ObjectTrack,
    load_object_mesh,
    mesh_contact,
    read_object_track,
    sphere_contact,
)
from skillmimic.io.resample import FPS, lerp, num_output_frames, sample_points, slerp
from skillmimic.io.smplx_model import GENDERS, SmplxBody, load_body
from skillmimic.motion.ballplay import MIN_FRAMES, WIDTH, read_ballplay
from skillmimic.skills import skill_id_from_filename, skill_name
from skillmimic.storage import safe_output

MIN_INPUT_FRAMES = 3
CONTACT_TOL = 0.02  # m between a hand vertex and the object's surface that still counts as touching
PARKED_BALL_OFFSET = 5.0  # m along +x from the first pelvis position, when there is no object

_SEPARATE = {  # key -> the SMPL-X joints it holds
    "global_orient": slice(0, 1),
    "body_pose": slice(1, 22),
    "jaw_pose": slice(22, 23),
    "leye_pose": slice(23, 24),
    "reye_pose": slice(24, 25),
}
_REQUIRED = ("global_orient", "body_pose", "transl")


@dataclass
class SmplxSequence:
    """SMPL-X parameters of one sequence in the file's own world and frame rate (float64)."""

    path: Path
    fps: float
    pose: torch.Tensor  # [T, 55, 3] rotation vectors, full hands with a flat mean
    transl: torch.Tensor  # [T, 3]
    betas: torch.Tensor  # [nb]
    gender: str
    up: str  # "y" | "z"
    hands: str  # how the file gave the hands, for the report

    @property
    def num_frames(self) -> int:
        return len(self.pose)


MAX_FRAMES = 216_000  # one hour at 60 fps: a longer clip is a wrong frame rate, not a capture


def read_sequence(
    path: str | Path,
    model_dir: str | Path,
    fps_in: float | None = None,
    up: str | None = None,
    gender: str | None = None,
) -> tuple[SmplxSequence, SmplxBody]:
    """Read and check a sequence file; returns it with the loaded model (``SmplxBody``), which PCA
    hands need. Every problem is a one-line ``SkillMimicError`` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise SkillMimicError(f"SMPL-X sequence not found: {path}")
    if path.suffix != ".npz":
        raise SkillMimicError(f"{path}: expected an .npz file of SMPL-X parameters")
    with open_npz(path) as npz:
        return _read_sequence(path, NpzArrays(path, npz), model_dir, fps_in, up, gender)


def _read_sequence(path: Path, data: NpzArrays, model_dir, fps_in, up, gender) -> tuple[SmplxSequence, SmplxBody]:
    amass = "poses" in data
    if amass:
        if data["poses"].shape[1:] == (156,):
            raise SkillMimicError(f"{path}: 'poses' has 156 values per frame (SMPL+H); expected SMPL-X's 165")
        if "trans" not in data:
            raise SkillMimicError(f"{path}: AMASS 'poses' without 'trans' [T, 3]")
        poses = _rows(path, data, "poses", (165,), alt=(55, 3))
        pose = poses.reshape(len(poses), 55, 3)
        transl = _rows(path, data, "trans", (3,), frames=len(pose))
        hands = "full"
    else:
        missing = [k for k in _REQUIRED if k not in data]
        if missing:
            raise SkillMimicError(
                f"{path}: no {', '.join(repr(k) for k in missing)}; expected AMASS 'poses'/'trans' or "
                "SMPL-X 'global_orient', 'body_pose', 'transl' (+ hand poses)"
            )
        n = len(np.atleast_1d(data["global_orient"]))
        pose = torch.zeros(n, 55, 3, dtype=torch.float64)
        for k, js in _SEPARATE.items():
            if k in data:
                count = js.stop - js.start
                pose[:, js] = _rows(path, data, k, (3 * count,), alt=(count, 3), frames=n).reshape(n, count, 3)
        transl = _rows(path, data, "transl", (3,), frames=n)
    if len(pose) < MIN_INPUT_FRAMES:
        raise SkillMimicError(f"{path}: has {len(pose)} frames, need at least {MIN_INPUT_FRAMES}")

    gender = gender or _gender(path, data)
    betas = _betas(path, data)
    body = load_body(model_dir, gender, len(betas))
    if not amass:
        flat = bool(data["flat_hand_mean"]) if "flat_hand_mean" in data else None
        kinds = []
        for side, key in enumerate(("left_hand_pose", "right_hand_pose")):
            if key not in data:
                continue
            full, kind = _hand(path, data, key, len(pose), body.hands_components[side], body.hands_mean[side], flat)
            pose[:, 25 + 15 * side : 40 + 15 * side] = full
            kinds.append(kind)
        hands = ", ".join(sorted(set(kinds))) or "flat (none in the file)"
    elif "flat_hand_mean" in data and not bool(data["flat_hand_mean"]):
        pose[:, 25:40] += torch.as_tensor(body.hands_mean[0]).reshape(15, 3)
        pose[:, 40:55] += torch.as_tensor(body.hands_mean[1]).reshape(15, 3)
        hands = "full + mean"

    if fps_in is None:
        rate_key = next((k for k in ("mocap_frame_rate", "mocap_framerate", "fps") if k in data), None)
        if rate_key is None:
            raise SkillMimicError(f"{path}: no frame rate in the file (mocap_frame_rate or fps); pass --fps-in")
        fps_in = _scalar(path, data, rate_key)
    if not (np.isfinite(fps_in) and fps_in > 0):
        raise SkillMimicError(f"{path}: frame rate {fps_in} is not a positive number")
    frames_out = (len(transl) - 1) / fps_in * 60.0 + 1
    if frames_out > MAX_FRAMES:
        raise SkillMimicError(
            f"{path}: {len(transl)} frames at {fps_in:g} fps last {(len(transl) - 1) / fps_in:,.0f} s, "
            f"{frames_out:,.0f} frames at 60 fps; at most {MAX_FRAMES:,} (one hour): is the frame rate right?"
        )
    if up is None:
        up = str(data["up"]).lower() if "up" in data else ("z" if amass else "y")
    if up not in ("y", "z"):
        raise SkillMimicError(f"{path}: up axis {up!r}; expected 'y' or 'z'")
    return SmplxSequence(path, float(fps_in), pose, transl, betas, gender, up, hands), body


def _rows(path: Path, data: NpzArrays, key: str, tail: tuple, alt: tuple | None = None, frames: int | None = None):
    """``data[key]`` as float64 ``[T, *tail]`` (or ``[T, *alt]``), finite, with ``frames`` rows."""
    a = data[key]
    ok = a.ndim == 1 + len(tail) and tuple(a.shape[1:]) == tail
    ok_alt = alt is not None and a.ndim == 1 + len(alt) and tuple(a.shape[1:]) == alt
    if not (ok or ok_alt) or not np.issubdtype(a.dtype, np.number):
        want = f"[T, {', '.join(map(str, tail))}]" + (f" or [T, {', '.join(map(str, alt))}]" if alt else "")
        raise SkillMimicError(f"{path}: {key!r} has shape {list(a.shape)} ({a.dtype}), expected {want}")
    if frames is not None and len(a) != frames:
        raise SkillMimicError(f"{path}: {key!r} has {len(a)} frames, the other arrays have {frames}")
    t = torch.as_tensor(np.asarray(a, dtype=np.float64))
    bad = ~torch.isfinite(t)
    if bad.any():
        raise SkillMimicError(
            f"{path}: {key!r} has a non-finite value (NaN or inf) at frame {int(bad.nonzero()[0, 0])}"
        )
    return t


def _hand(path, data, key, frames, components, mean, flat):
    """Full axis-angle ``[T, 15, 3]`` of one hand, flat-mean semantics, and a word on the input."""
    a = data[key]
    k = a.shape[-1] if a.ndim == 2 else -1
    if a.ndim == 2 and 0 < k < 45:
        coeffs = _rows(path, data, key, (k,), frames=frames)
        full = coeffs @ torch.as_tensor(components[:k])
        add_mean, kind = (True if flat is None else not flat), f"PCA ({k} components)"
    else:
        full = _rows(path, data, key, (45,), alt=(15, 3), frames=frames).reshape(frames, 45)
        add_mean, kind = (False if flat is None else not flat), "full"
    if add_mean:
        full = full + torch.as_tensor(mean)
    return full.reshape(frames, 15, 3), kind + (" + mean" if add_mean else "")


def _betas(path: Path, data: NpzArrays) -> torch.Tensor:
    if "betas" not in data:
        return torch.zeros(10, dtype=torch.float64)
    b = np.asarray(data["betas"])
    if b.ndim == 2:
        b = b[0]  # per-frame betas of a fit: the body shape is constant, the first row is used
    if b.ndim != 1 or not np.issubdtype(b.dtype, np.number) or len(b) == 0:
        raise SkillMimicError(
            f"{path}: 'betas' has shape {list(np.asarray(data['betas']).shape)}, expected [n] or [T, n]"
        )
    t = torch.as_tensor(b.astype(np.float64))
    if not torch.isfinite(t).all():
        raise SkillMimicError(f"{path}: 'betas' has a non-finite value (NaN or inf)")
    return t


def _gender(path: Path, data: NpzArrays) -> str:
    if "gender" not in data:
        return "neutral"
    raw = data["gender"]
    raw = raw.item() if isinstance(raw, np.ndarray) and raw.size == 1 else raw
    g = (raw.decode() if isinstance(raw, bytes) else str(raw)).strip().lower()
    if g not in GENDERS:
        raise SkillMimicError(f"{path}: gender {g!r}; expected one of {', '.join(GENDERS)} (or pass --gender)")
    return g


def _scalar(path: Path, data: NpzArrays, key: str) -> float:
    try:
        return float(np.asarray(data[key]).reshape(-1)[0])
    except (ValueError, IndexError, TypeError):
        raise SkillMimicError(f"{path}: {key!r} is not a number") from None


@dataclass
class Converted:
    """A converted clip and what happened on the way."""

    tensor: torch.Tensor  # [T, 337] float32
    frames_in: int
    fps_in: float
    ground_shift: float  # m subtracted from every height
    contact_frames: int
    sequence: SmplxSequence


def convert_sequence(
    seq_path: str | Path,
    model_dir: str | Path,
    object_track: str | Path | None = None,
    object_mesh: str | Path | None = None,
    up: str | None = None,
    fps_in: float | None = None,
    contact_tol: float = CONTACT_TOL,
    gender: str | None = None,
    ground: bool = True,
) -> Converted:
    """The BallPlay tensor of an SMPL-X sequence (+ object); see the module docstring."""
    seq, body = read_sequence(seq_path, model_dir, fps_in, up, gender)
    track = read_object_track(object_track) if object_track is not None else None
    mesh = load_object_mesh(object_mesh) if object_mesh is not None else None
    if mesh is not None and track is None:
        raise SkillMimicError(f"{object_mesh}: --object-mesh needs --object (the mesh's track)")
    if contact_tol < 0:
        raise SkillMimicError(f"contact tolerance {contact_tol} m: expected >= 0")

    n = num_output_frames(seq.num_frames, seq.fps)
    if n < MIN_FRAMES:
        raise SkillMimicError(
            f"{seq.path}: {seq.num_frames} frames at {seq.fps:g} fps give {n} frames at {FPS:g} fps; "
            f"a clip needs at least {MIN_FRAMES}"
        )
    i0, frac = sample_points(seq.num_frames, seq.fps, n)
    quats = slerp(rot.sign_continuous(rot.quat_from_rotvec(seq.pose)), i0, frac)  # [n, 55, 4]
    transl = lerp(seq.transl, i0, frac)
    joints, hand_v, foot_v = body.forward(rot.quat_to_rotvec(quats), seq.betas, transl)

    r_up = jm.up_quat(seq.up)
    turn = lambda p: rot.quat_rotate(r_up.expand(p.shape[:-1] + (4,)), p)  # noqa: E731
    joints, hand_v, foot_v = turn(joints), turn(hand_v), turn(foot_v)
    root_rot = rot.quat_mul(r_up.expand(n, 4), quats[:, 0])
    if track is not None:
        ball_pos, ball_rot = _object_at_60(track, seq, n)
        ball_pos, ball_rot = turn(ball_pos), rot.quat_mul(r_up.expand(n, 4), ball_rot)
    dz = float(foot_v[..., 2].min()) if ground and foot_v.numel() else 0.0
    shift = torch.tensor([0.0, 0.0, dz], dtype=torch.float64)
    joints, hand_v = joints - shift, hand_v - shift
    if track is not None:
        ball_pos = ball_pos - shift
        if mesh is None:
            contact = sphere_contact(hand_v, ball_pos, BALL_RADIUS, contact_tol)
        else:
            contact = mesh_contact(hand_v, ball_pos, ball_rot, mesh, contact_tol)
    else:
        x, y = float(joints[0, 0, 0]) + PARKED_BALL_OFFSET, float(joints[0, 0, 1])
        ball_pos = torch.tensor([x, y, BALL_RADIUS], dtype=torch.float64).expand(n, 3)
        ball_rot = torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=torch.float64).expand(n, 4)
        contact = torch.zeros(n, dtype=torch.bool)

    out = torch.zeros(n, WIDTH, dtype=torch.float64)
    out[:, 0:3] = joints[:, 0]
    out[:, 3:6] = out[:, 6:9] = rot.quat_to_rotvec(root_rot)
    out[:, 9:165] = rot.quat_to_rotvec(jm.ours_from_smplx(quats)).reshape(n, 3 * NUM_JOINTS)
    out[:, 165:324] = jm.bodies_from_smplx_joints(joints).reshape(n, -1)
    out[:, 324:327] = ball_pos
    out[:, 327:330] = rot.quat_to_rotvec(ball_rot)
    out[:, 336] = contact.to(torch.float64)
    return Converted(out.float(), seq.num_frames, seq.fps, dz, int(contact.sum()), seq)


def _object_at_60(track: ObjectTrack, seq: SmplxSequence, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The track at our 60 fps instants; its length must match the sequence's duration."""
    fps = track.fps or seq.fps
    expected = round((seq.num_frames - 1) * fps / seq.fps) + 1
    if track.num_frames != expected:
        rate = f" at {fps:g} fps" if track.fps else " (no frame rate in the file: the sequence's)"
        raise SkillMimicError(
            f"{track.path}: object track has {track.num_frames} frames{rate}, but {seq.path.name} has "
            f"{seq.num_frames} frames at {seq.fps:g} fps (expected {expected} track frames)"
        )
    i0, frac = sample_points(track.num_frames, fps, n)
    return lerp(track.pos, i0, frac), slerp(track.rot, i0, frac)


def clip_path(out: str | Path, skill: int | None) -> Path:
    """Where the clip goes: the loader reads the skill from the file name's first three digits, so
    ``--skill`` without such a prefix prepends one; a prefix that disagrees is an error."""
    out = Path(out)
    if out.suffix != ".pt":
        raise SkillMimicError(f"{out}: the clip must be a .pt file")
    sid = skill_id_from_filename(out.stem)
    if skill is None:
        if sid is None:
            raise SkillMimicError(
                f"{out}: a clip's skill is its file name's first three digits (e.g. 031_mine.pt is a layup); "
                "name it so or pass --skill"
            )
        skill_name(sid)
        return out
    skill_name(skill)
    if sid is None:
        return out.with_name(f"{skill:03d}_{out.name}")
    if sid != skill:
        raise SkillMimicError(f"{out}: the file name says skill {sid:03d}, --skill says {skill:03d}")
    return out


def convert_to_file(seq_path: str | Path, out: str | Path, skill: int | None = None, **kw) -> tuple[Path, Converted]:
    """Convert, write the clip, and read it back through the BallPlay loader (its validation)."""
    path = safe_output(clip_path(out, skill), seq_path, kw.get("object_track"), what="--out", make_folder=True)
    conv = convert_sequence(seq_path, **kw)
    # validated under its own name in a scratch folder beside it, then moved over: a bad sequence
    # never replaces a good clip
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".convert-") as scratch:
        tmp = Path(scratch) / path.name
        torch.save(conv.tensor, tmp)
        read_ballplay(tmp)
        os.replace(tmp, path)
    return path, conv
