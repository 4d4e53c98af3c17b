"""Object tracks (position + orientation per frame) and hand-object contact from geometry.

Track files:

- ``.npy``: ``[T, 3]`` positions (orientation fixed), ``[T, 6]`` position + rotation vector,
  ``[T, 7]`` position + quaternion (w, x, y, z), or ``[T, 4, 4]`` rigid transforms; the frame rate
  is the sequence's.
- ``.npz``: a position array under ``ball_pos``, ``object_pos``, ``pos``, ``position`` or ``transl``
  ``[T, 3]``; an orientation (optional) under ``ball_rot``, ``object_rot``, ``rot`` or ``rotvec``
  (rotation vectors ``[T, 3]``), ``quat`` (``[T, 4]``, w first) or ``rotmat`` ``[T, 3, 3]``; a frame
  rate (optional) under ``fps``, ``mocap_frame_rate`` or ``mocap_framerate``. A file written by
  ``skillmimic export --smplx`` is a valid track (its ball).

Contact is geometric: a frame is "in contact" when a hand vertex of the SMPL-X body (wrist or
finger skinned) is within ``tol`` of the object's surface or inside it. The ball is a sphere of
our ball's radius; any other object is its ``trimesh`` mesh, in the track's local frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from skillmimic import rotations as rot
from skillmimic.errors import SkillMimicError
from skillmimic.io.npz import NpzArrays, open_npz

_POS_KEYS = ("ball_pos", "object_pos", "pos", "position", "transl")
_ROTVEC_KEYS = ("ball_rot", "object_rot", "rot", "rotvec")
_FPS_KEYS = ("fps", "mocap_frame_rate", "mocap_framerate")
_PAIRS_PER_CHUNK = 2_000_000  # point-triangle pairs per pass (memory bound)


@dataclass
class ObjectTrack:
    """An object's pose per frame in the file's world (float64)."""

    path: Path
    pos: torch.Tensor  # [T, 3]
    rot: torch.Tensor  # [T, 4] (w, x, y, z), sign-continuous
    fps: float | None  # None: the sequence's rate

    @property
    def num_frames(self) -> int:
        return len(self.pos)


def read_object_track(path: str | Path) -> ObjectTrack:
    """Read and check a track file; each problem is a one-line ``SkillMimicError``."""
    path = Path(path)
    if not path.is_file():
        raise SkillMimicError(f"object track not found: {path}")
    loaded = open_npz(path)
    fps = None
    if isinstance(loaded, np.ndarray):
        pos, q = _from_array(path, loaded)
    else:
        with loaded:
            data = NpzArrays(path, loaded)
            pos_key = next((k for k in _POS_KEYS if k in data), None)
            if pos_key is None:
                raise SkillMimicError(f"{path}: no object position; expected one of the keys {', '.join(_POS_KEYS)}")
            pos = _array(path, data, pos_key, (3,))
            q = None
            rv_key = next((k for k in _ROTVEC_KEYS if k in data), None)
            if rv_key is not None:
                q = rot.quat_from_rotvec(_array(path, data, rv_key, (3,)))
            elif "quat" in data:
                q = rot.normalize(_array(path, data, "quat", (4,)))
            elif "rotmat" in data:
                q = quat_from_matrix(_array(path, data, "rotmat", (3, 3)))
            fps_key = next((k for k in _FPS_KEYS if k in data), None)
            if fps_key is not None:
                fps = _rate(path, data[fps_key], fps_key)
    if q is None:
        q = torch.zeros(len(pos), 4, dtype=torch.float64)
        q[:, 0] = 1.0
    if len(q) != len(pos):
        raise SkillMimicError(f"{path}: {len(pos)} positions but {len(q)} orientations")
    if len(pos) == 0:
        raise SkillMimicError(f"{path}: the object track has no frames")
    return ObjectTrack(path, pos, rot.sign_continuous(q), fps)


def _from_array(path: Path, a: np.ndarray) -> tuple[torch.Tensor, torch.Tensor | None]:
    t = _finite(path, a, "the array")
    if t.dim() == 2 and t.shape[1] == 3:
        return t, None
    if t.dim() == 2 and t.shape[1] == 6:
        return t[:, :3], rot.quat_from_rotvec(t[:, 3:])
    if t.dim() == 2 and t.shape[1] == 7:
        return t[:, :3], rot.normalize(t[:, 3:])
    if t.dim() == 3 and t.shape[1:] == (4, 4):
        return t[:, :3, 3], quat_from_matrix(t[:, :3, :3])
    raise SkillMimicError(
        f"{path}: object track has shape {list(a.shape)}; expected [T, 3], [T, 6] (position, rotation vector), "
        "[T, 7] (position, quaternion w x y z) or [T, 4, 4]"
    )


def _array(path: Path, data, key: str, tail: tuple[int, ...]) -> torch.Tensor:
    a = data[key]
    if a.ndim != 1 + len(tail) or tuple(a.shape[1:]) != tail:
        want = ", ".join(["T"] + [str(n) for n in tail])
        raise SkillMimicError(f"{path}: {key!r} has shape {list(a.shape)}, expected [{want}]")
    return _finite(path, a, repr(key))


def _finite(path: Path, a: np.ndarray, what: str) -> torch.Tensor:
    if not np.issubdtype(a.dtype, np.number):
        raise SkillMimicError(f"{path}: {what} holds {a.dtype} values, expected numbers")
    t = torch.as_tensor(np.asarray(a, dtype=np.float64))
    bad = ~torch.isfinite(t)
    if bad.any():
        raise SkillMimicError(f"{path}: {what} has a non-finite value (NaN or inf) at frame {int(bad.nonzero()[0, 0])}")
    return t


def _rate(path: Path, v, key: str) -> float:
    try:
        fps = float(np.asarray(v).reshape(-1)[0])
    except (ValueError, IndexError):
        raise SkillMimicError(f"{path}: {key!r} is not a frame rate: {v!r}") from None
    if not np.isfinite(fps) or fps <= 0:
        raise SkillMimicError(f"{path}: {key!r} is {fps}, expected a positive frame rate")
    return fps


def quat_from_matrix(m: torch.Tensor) -> torch.Tensor:
    """Unit quaternions (w, x, y, z) ``[..., 4]`` of rotation matrices ``[..., 3, 3]`` (Shepperd's
    method: the largest of the four candidate components is taken, so no division by ~0)."""
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    cand = torch.stack((1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22), -1)
    k = cand.argmax(-1, keepdim=True)
    s = 0.5 / cand.gather(-1, k).clamp_min(1e-12).sqrt()
    d21, d02, d10 = m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]
    s21, s02, s10 = m[..., 2, 1] + m[..., 1, 2], m[..., 0, 2] + m[..., 2, 0], m[..., 1, 0] + m[..., 0, 1]
    rows = torch.stack(
        (
            torch.stack((cand[..., 0], d21, d02, d10), -1),
            torch.stack((d21, cand[..., 1], s10, s02), -1),
            torch.stack((d02, s10, cand[..., 2], s21), -1),
            torch.stack((d10, s02, s21, cand[..., 3]), -1),
        ),
        -2,
    )
    q = rows.gather(-2, k.unsqueeze(-1).expand(*k.shape[:-1], 1, 4)).squeeze(-2) * s
    return rot.normalize(q)


def load_object_mesh(path: str | Path):
    """A ``trimesh.Trimesh`` (a scene is merged into one mesh); a one-line error otherwise."""
    import trimesh

    path = Path(path)
    if not path.is_file():
        raise SkillMimicError(f"object mesh not found: {path}")
    try:
        mesh = trimesh.load(path, force="mesh")
    except Exception as e:
        raise SkillMimicError(f"{path}: trimesh cannot read this mesh: {str(e).splitlines()[0][:160]}") from None
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise SkillMimicError(f"{path}: no triangles in this mesh file")
    return mesh


def sphere_contact(points: torch.Tensor, center: torch.Tensor, radius: float, tol: float) -> torch.Tensor:
    """``[T]`` bool: a point of ``points`` ``[T, P, 3]`` lies within ``tol`` of the sphere's surface or inside."""
    gap = (points - center.unsqueeze(1)).norm(dim=-1) - radius
    return (gap <= tol).any(dim=1)


def mesh_contact(points: torch.Tensor, pos: torch.Tensor, quat: torch.Tensor, mesh, tol: float) -> torch.Tensor:
    """``[T]`` bool: a point of ``points`` ``[T, P, 3]`` lies within ``tol`` of the mesh posed at
    ``pos``/``quat`` ``[T, 3]``/``[T, 4]``, or inside it (winding number, closed meshes only).

    No spatial index (and no extra dependency): points beyond the mesh's bounding sphere plus
    ``tol`` are dropped, then only triangles whose own bounding sphere comes within ``tol`` of a
    point get an exact point-triangle distance."""
    import trimesh

    local = rot.quat_rotate(rot.quat_conj(quat).unsqueeze(1), points - pos.unsqueeze(1))
    verts = torch.as_tensor(np.asarray(mesh.vertices), dtype=torch.float64)
    centre = (verts.min(0).values + verts.max(0).values) / 2
    reach = float((verts - centre).norm(dim=1).max()) + tol
    frame, point = ((local - centre).norm(dim=-1) <= reach).nonzero(as_tuple=True)
    hit = torch.zeros(len(points), dtype=torch.bool)
    if len(frame) == 0:
        return hit
    cand = local[frame, point]
    tri = np.array(mesh.triangles, dtype=np.float64)  # a writable copy
    tri_t = torch.as_tensor(tri, dtype=torch.float64)
    tri_c = tri_t.mean(1)
    tri_r = (tri_t - tri_c.unsqueeze(1)).norm(dim=-1).max(1).values
    near = torch.zeros(len(cand), dtype=torch.bool)
    step = max(1, _PAIRS_PER_CHUNK // len(tri))
    for s in range(0, len(cand), step):
        c = cand[s : s + step]
        p, f = (torch.cdist(c, tri_c) <= tri_r + tol).nonzero(as_tuple=True)
        if len(p):
            closest = trimesh.triangles.closest_point(tri[f.numpy()], c[p].numpy())
            close = np.linalg.norm(closest - c[p].numpy(), axis=1) <= tol
            near[s + p[torch.from_numpy(close)]] = True
        if mesh.is_watertight:
            rest = (~near[s : s + step]).nonzero().flatten()
            if len(rest):
                near[s + rest] = _winding_number(tri_t, c[rest]) > 0.5
    hit[frame[near]] = True
    return hit


def _winding_number(tri: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """Generalised winding number ``[P]`` of a closed triangle mesh ``[F, 3, 3]`` at points ``[P, 3]``:
    the summed solid angles over 4 pi (1 inside, 0 outside)."""
    a, b, c = (tri[None, :, i] - p[:, None] for i in range(3))
    la, lb, lc = (v.norm(dim=-1) for v in (a, b, c))
    num = (a * torch.cross(b, c, dim=-1)).sum(-1)
    den = la * lb * lc + (a * b).sum(-1) * lc + (a * c).sum(-1) * lb + (b * c).sum(-1) * la
    return (2.0 * torch.atan2(num, den)).sum(dim=1) / (4 * torch.pi)
