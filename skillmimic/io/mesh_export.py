"""``skillmimic export --mesh``: the humanoid's collision shapes and the ball as an animated glTF.

One node per body (its capsule, sphere or box, built with ``trimesh``) and one for the ball, each
animated with its world translation and rotation per frame (linear / slerp between 60 fps keys).
The nodes are flat (no hierarchy), so any glTF viewer or Blender's importer plays it without a
rig. glTF is y-up by specification: our z-up world is turned by -90 deg about x on the way out
(Blender's importer turns it back).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import torch

from skillmimic import rotations as rot
from skillmimic.humanoid import BALL_RADIUS, BODIES, Geom
from skillmimic.io.track import Track

_Z_UP_TO_Y_UP = torch.tensor([0.5**0.5, -(0.5**0.5), 0.0, 0.0], dtype=torch.float64)  # -90 deg about x
_COLORS = {"body": (0.8, 0.6, 0.4, 1.0), "ball": (0.9, 0.45, 0.1, 1.0)}
_FLOAT, _UINT = 5126, 5125  # glTF component types
_ARRAY, _INDEX = 34962, 34963  # bufferView targets


def geom_mesh(g: Geom):
    """A ``trimesh.Trimesh`` of one geom in its body's frame."""
    import trimesh

    if g.kind == "sphere":
        m = trimesh.creation.icosphere(subdivisions=2, radius=g.size[0])
        m.apply_translation(g.pos)
    elif g.kind == "box":
        m = trimesh.creation.box(extents=2 * np.asarray(g.size))
        m.apply_translation(g.pos)
    else:  # capsule from fromto
        assert g.fromto is not None
        a, b = np.asarray(g.fromto[:3]), np.asarray(g.fromto[3:])
        m = trimesh.creation.capsule(height=float(np.linalg.norm(b - a)), radius=g.size[0], count=[12, 8])
        m.apply_transform(trimesh.geometry.align_vectors([0, 0, 1], b - a))
        m.apply_translation((a + b) / 2)
    return m


def export_mesh(track: Track, out: str | Path) -> Path:
    """Write ``track`` as an animated binary glTF (``.glb``)."""
    import trimesh

    pos, quat = track.bodies()
    pos = torch.cat((pos, track.ball_pos.unsqueeze(1)), dim=1)  # [T, 54, 3]
    quat = torch.cat((quat, track.ball_rot.unsqueeze(1)), dim=1)
    c = _Z_UP_TO_Y_UP.expand(quat.shape)
    pos, quat = rot.quat_rotate(c, pos), rot.sign_continuous(rot.normalize(rot.quat_mul(c, quat)))
    names = [b.name for b in BODIES] + ["ball"]
    meshes = [geom_mesh(b.geom) for b in BODIES] + [trimesh.creation.icosphere(subdivisions=3, radius=BALL_RADIUS)]

    g = _Gltf()
    times = g.accessor(np.arange(track.num_frames, dtype=np.float32) / track.fps, None, "SCALAR", minmax=True)
    samplers, channels = [], []
    for i, (name, m) in enumerate(zip(names, meshes, strict=True)):
        attrs = {
            "POSITION": g.accessor(m.vertices, _ARRAY, "VEC3", minmax=True),
            "NORMAL": g.accessor(_vertex_normals(m.vertices, m.faces), _ARRAY, "VEC3"),
        }
        idx = g.accessor(m.faces.reshape(-1).astype(np.uint32), _INDEX, "SCALAR")
        material = 1 if name == "ball" else 0
        g.json["meshes"].append(
            {"name": name, "primitives": [{"attributes": attrs, "indices": idx, "material": material}]}
        )
        xyzw = quat[:, i, [1, 2, 3, 0]].numpy()
        g.json["nodes"].append(
            {"name": name, "mesh": i, "translation": pos[0, i].tolist(), "rotation": xyzw[0].tolist()}
        )
        for path, values, kind in (("translation", pos[:, i].numpy(), "VEC3"), ("rotation", xyzw, "VEC4")):
            samplers.append({"input": times, "output": g.accessor(values, None, kind), "interpolation": "LINEAR"})
            channels.append({"sampler": len(samplers) - 1, "target": {"node": i, "path": path}})
    g.json["nodes"].append({"name": track.name or "skillmimic", "children": list(range(len(names)))})
    g.json["scenes"] = [{"nodes": [len(names)]}]
    g.json["animations"] = [{"name": track.name or "motion", "samplers": samplers, "channels": channels}]
    g.json["materials"] = [
        {"name": k, "pbrMetallicRoughness": {"baseColorFactor": list(v), "metallicFactor": 0.0, "roughnessFactor": 0.8}}
        for k, v in _COLORS.items()
    ]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(g.glb())
    return out


def _vertex_normals(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Area-weighted smooth normals (trimesh's own needs scipy, which we do not depend on)."""
    face = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    n = np.zeros_like(v)
    for k in range(3):
        np.add.at(n, f[:, k], face)
    return n / np.linalg.norm(n, axis=1, keepdims=True).clip(1e-12)


class _Gltf:
    """A glTF 2.0 document with one binary buffer, written as GLB."""

    def __init__(self):
        self.json = {"asset": {"version": "2.0", "generator": "skillmimic"}, "scene": 0}
        self.json |= {"nodes": [], "meshes": [], "accessors": [], "bufferViews": []}
        self.bin = bytearray()

    def accessor(self, a: np.ndarray, target: int | None, kind: str, minmax: bool = False) -> int:
        a = np.ascontiguousarray(a, dtype=np.uint32 if a.dtype == np.uint32 else np.float32)
        view = {"buffer": 0, "byteOffset": len(self.bin), "byteLength": a.nbytes}
        if target is not None:
            view["target"] = target
        self.bin += a.tobytes()
        self.bin += b"\0" * (-len(self.bin) % 4)
        self.json["bufferViews"].append(view)
        acc = {
            "bufferView": len(self.json["bufferViews"]) - 1,
            "componentType": _UINT if a.dtype == np.uint32 else _FLOAT,
            "count": len(a),
            "type": kind,
        }
        if minmax:
            flat = a.reshape(len(a), -1)
            acc |= {"min": flat.min(0).tolist(), "max": flat.max(0).tolist()}
        self.json["accessors"].append(acc)
        return len(self.json["accessors"]) - 1

    def glb(self) -> bytes:
        self.json["buffers"] = [{"byteLength": len(self.bin)}]
        text = json.dumps(self.json, separators=(",", ":")).encode()
        text += b" " * (-len(text) % 4)
        body = struct.pack("<II", len(text), 0x4E4F534A) + text + struct.pack("<II", len(self.bin), 0x004E4942)
        body += bytes(self.bin)
        return struct.pack("<III", 0x46546C67, 2, 12 + len(body)) + body
