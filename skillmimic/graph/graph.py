"""The stitched trajectory graph (SkillMimic-V2's STG): for every reference frame, the most
similar frame of every other skill, i.e. where a policy may jump to switch skills.

It encodes the table ``(src clip, src frame, dst skill) -> (dst clip, dst frame, similarity)``
over flat library rows: row ``r`` is frame ``src_frame[r]`` of clip ``src_clip[r]``, column ``k``
is skill ``skills[k]``. The source's own skill column, missing source frames and searches whose
best similarity is below ``MIN_SIMILARITY`` hold ``(-1, -1, 0)`` (no edge). Candidates are never
a clip's frames 0, 1 or L-1 (no room to continue from) nor missing frames.

File format (``save``/``load``): ``torch.save`` of a dict of plain values, read back with
``torch.load(weights_only=True)`` (no pickled code):

| key           | value                                                        |
|---------------|--------------------------------------------------------------|
| `format`      | `"skillmimic-trajectory-graph"`                              |
| `version`     | `1`                                                          |
| `key`         | hex hash of the clips' frame data and the weights (`graph_key`) |
| `clip_names`  | list of C clip names, library order                          |
| `clip_skills` | int64 `[C]` skill id per clip                                |
| `skills`      | int64 `[K]` sorted skill ids, the columns                    |
| `src_clip`, `src_frame` | int64 `[F]` clip and frame of each row             |
| `dst_clip`, `dst_frame` | int64 `[F, K]` target clip and frame, -1 for no edge |
| `sim`         | float32 `[F, K]` similarity of the edge, 0 for no edge       |
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path

import torch

from skillmimic.errors import SkillMimicError
from skillmimic.graph.similarity import (
    BALL_WEIGHTS,
    NO_BALL_WEIGHTS,
    exponent,
    features_index,
    frame_features,
    graph_weights,
    search_features,
)
from skillmimic.storage import atomic_save, load_plain

log = logging.getLogger(__name__)

FORMAT = "skillmimic-trajectory-graph"
VERSION = 1
MIN_SIMILARITY = 1e-10  # upstream: a weaker best match is no edge
# The search ranks with float32 GEMMs, then recomputes every candidate within this exponent
# margin of the best exactly (float64, pair by pair): the chosen frame and its similarity are
# then independent of chunking and rounding, and exact ties go to the lowest row.
_MARGIN = 1e-3
_CUT = -math.log(MIN_SIMILARITY) + _MARGIN
_CHUNKS = {"cpu": (64, 256), "cuda": (512, 4096)}  # (source, candidate) rows per block
_TENSORS = ("skills", "clip_skills", "src_clip", "src_frame", "dst_clip", "dst_frame", "sim")


@dataclass
class TrajectoryGraph:
    """Edges of every flat library row to each skill (see the module docstring)."""

    skills: torch.Tensor  # [K] sorted skill ids
    clip_skills: torch.Tensor  # [C]
    src_clip: torch.Tensor  # [F]
    src_frame: torch.Tensor  # [F]
    dst_clip: torch.Tensor  # [F, K]
    dst_frame: torch.Tensor  # [F, K]
    sim: torch.Tensor  # [F, K]
    clip_names: list[str]
    key: str

    @property
    def num_frames(self) -> int:
        return self.src_clip.shape[0]

    @property
    def num_edges(self) -> int:
        return int((self.dst_clip >= 0).sum())

    def edges(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(dst_skill, dst_clip, dst_frame, sim)``, each ``[B, K]``, for a batch of flat rows.

        ``dst_skill`` is the column's skill; no-edge entries have clip and frame -1 and sim 0.
        """
        return self.skills.expand(rows.shape[0], -1), self.dst_clip[rows], self.dst_frame[rows], self.sim[rows]

    def to(self, device) -> TrajectoryGraph:
        return replace(self, **{k: getattr(self, k).to(device) for k in _TENSORS})

    def save(self, path: str | Path) -> None:
        """Write atomically (temp file + rename): a reader never sees half a file."""
        data = {"format": FORMAT, "version": VERSION, "key": self.key, "clip_names": list(self.clip_names)}
        data.update({k: getattr(self, k).cpu() for k in _TENSORS})
        atomic_save(data, path)

    @classmethod
    def load(cls, path: str | Path, key: str | None = None) -> TrajectoryGraph:
        """Read a graph file; with ``key``, refuse one built for other clips or weights."""
        path = Path(path)
        data = load_plain(path, "trajectory graph")
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise SkillMimicError(f"{path}: not a trajectory graph file (expected format {FORMAT!r})")
        if data.get("version") != VERSION:
            raise SkillMimicError(f"{path}: trajectory graph version {data.get('version')}, expected {VERSION}")
        missing = [k for k in (*_TENSORS, "clip_names", "key") if k not in data]
        if missing:
            raise SkillMimicError(f"{path}: trajectory graph file lacks {', '.join(missing)}")
        if key is not None and data["key"] != key:
            raise SkillMimicError(
                f"{path}: trajectory graph was built for other clips (key {data['key']}, expected {key}); rebuild it"
            )
        _check_graph(path, data)
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def _check_graph(path: Path, d: dict) -> None:
    """Types, shapes and index ranges of a graph file: a file that lies about them is a one-line
    error here, not an index error (or a wrong reference frame) deep in an env step."""

    def bad(what: str):
        return SkillMimicError(f"{path}: trajectory graph {what}")

    if not isinstance(d["key"], str) or not (
        isinstance(d["clip_names"], list) and all(isinstance(n, str) for n in d["clip_names"])
    ):
        raise bad("has a key or clip names that are not text")
    if not all(isinstance(d[k], torch.Tensor) for k in _TENSORS):
        raise bad(f"entries {', '.join(_TENSORS)} must be tensors")
    frames, clips, skills = d["src_clip"].shape[0], len(d["clip_names"]), d["skills"].shape[0]
    shapes = {
        "skills": (skills,),
        "clip_skills": (clips,),
        "src_clip": (frames,),
        "src_frame": (frames,),
        "dst_clip": (frames, skills),
        "dst_frame": (frames, skills),
        "sim": (frames, skills),
    }
    for k, shape in shapes.items():
        if tuple(d[k].shape) != shape:
            raise bad(f"{k} has shape {list(d[k].shape)}, expected {list(shape)}")
    ranges = (
        ("src_clip", 0, clips),
        ("dst_clip", -1, clips),
        ("src_frame", 0, frames),
        ("dst_frame", -1, frames),
    )
    for k, low, high in ranges:
        t = d[k]
        if t.is_floating_point() or (t.numel() and (int(t.min()) < low or int(t.max()) >= high)):
            raise bad(f"{k} holds values outside [{low}, {high})")
    sim = d["sim"]
    if not sim.is_floating_point() or not bool(torch.isfinite(sim).all()) or (sim.numel() and float(sim.min()) < 0):
        raise bad("similarities must be finite and non-negative")


def graph_key(lib) -> str:
    """Short sha256 of what the graph depends on: clip names, skills and frame data, weights."""
    h = hashlib.sha256(f"{FORMAT} {VERSION} {BALL_WEIGHTS} {NO_BALL_WEIGHTS} {_MARGIN}".encode())
    lib.hash_into(h)
    return h.hexdigest()[:16]


def build_graph(lib, device=None, chunk: int | None = None, cand_chunk: int | None = None) -> TrajectoryGraph:
    """Search every valid frame's best match in each other skill, batched on ``device``.

    Memory is bounded by ``chunk`` source rows times ``cand_chunk`` candidate rows (52 floats
    each); the result does not depend on either. The CPU defaults keep that block (3.4 MB) in
    cache, which measured fastest (see benchmarks/README.md); CUDA wants large blocks.
    """
    device = torch.device(device) if device is not None else lib.device
    default = _CHUNKS.get(device.type, _CHUNKS["cuda"])
    chunk, cand_chunk = chunk or default[0], cand_chunk or default[1]
    feats = {k: v.to(device) for k, v in frame_features(lib).items()}
    exact = {k: v.double() for k, v in feats.items()}
    frame_clip, starts, lengths = lib.frame_clip.to(device), lib.starts.to(device), lib.lengths.to(device)
    valid = lib.valid.to(device)
    rows = torch.arange(lib.num_frames, device=device)
    src_frame = rows - starts[frame_clip]
    row_skill = lib.skill_ids.to(device)[frame_clip]
    eligible = valid & (src_frame >= 2) & (src_frame != lengths[frame_clip] - 1)
    skills = torch.unique(lib.skill_ids.to(device))
    K, F = len(skills), lib.num_frames
    cands = [torch.nonzero(eligible & (row_skill == s)).flatten() for s in skills]
    best_row = torch.full((F, K), -1, dtype=torch.long, device=device)
    best_sim = torch.zeros((F, K), dtype=torch.float32, device=device)

    search = {}  # weights -> per-skill candidate (H, |H|^2, joint quaternions [52, 4, n])
    for ks, s in enumerate(skills.tolist()):
        w = graph_weights(s)
        if w not in search:
            h, q = search_features(feats, w)
            per = [(h[c], (h[c] ** 2).sum(1), q[c].permute(1, 2, 0).contiguous()) for c in cands]
            search[w] = (h, (h * h).sum(1), per)
        h, hn, per_skill = search[w]
        src_rows = torch.nonzero(valid & (row_skill == s)).flatten()
        for a in range(0, len(src_rows), chunk):
            r = src_rows[a : a + chunk]
            hs, ns = h[r], hn[r]
            qs = feats["joint_rot"][r].transpose(0, 1).contiguous()  # [52, S, 4]
            found = []  # (source index, candidate row, column)
            for k, c in enumerate(cands):
                if k == ks or len(c) == 0:
                    continue
                hd, nd, qd = per_skill[k]
                i, j = _near_best(hs, ns, qs, hd, nd, qd, w.rot, cand_chunk)
                found.append((i, c[j], torch.full_like(i, k)))
            if found:
                i, cand, col = (torch.cat(t) for t in zip(*found, strict=True))
                e = exponent(features_index(exact, r[i]), features_index(exact, cand), w, align=True)
                g = i * K + col
                emin = torch.full((len(r) * K,), math.inf, dtype=e.dtype, device=device).scatter_reduce(0, g, e, "amin")
                tie = e == emin[g]
                pick = torch.full((len(r) * K,), F, device=device).scatter_reduce(0, g[tie], cand[tie], "amin")
                sim = torch.exp(-emin)
                ok = sim >= MIN_SIMILARITY
                best_row[r] = torch.where(ok, pick, -1).view(len(r), K)
                best_sim[r] = torch.where(ok, sim, 0).view(len(r), K).float()

    has = best_row >= 0
    dst = best_row.clamp_min(0)
    clip = torch.where(has, frame_clip[dst], -1)
    return TrajectoryGraph(
        skills=skills,
        clip_skills=lib.skill_ids.to(device),
        src_clip=frame_clip,
        src_frame=src_frame,
        dst_clip=clip,
        dst_frame=torch.where(has, dst - starts[clip.clamp_min(0)], -1),
        sim=best_sim,
        clip_names=list(lib.names),
        key=graph_key(lib),
    )


def _near_best(hs, ns, qs, hd, nd, qd, w_rot: float, cand_chunk: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(source index, candidate index) pairs whose approximate exponent is within the margin of
    the source's best over all candidates (and good enough to be an edge)."""
    emin = torch.full_like(ns, math.inf)
    out = []
    for b in range(0, hd.shape[0], cand_chunk):
        e = torch.addmm(nd[b : b + cand_chunk], hs, hd[b : b + cand_chunk].T, alpha=-2).add_(ns.unsqueeze(1))
        d = torch.bmm(qs, qd[:, :, b : b + cand_chunk])  # [52, S, D] joint quaternion dot products
        d.abs_().clamp_(max=1).acos_().square_()  # theta = 2 acos|dot|
        e.add_(d.sum(0), alpha=4 * w_rot / qs.shape[0])
        emin = torch.minimum(emin, e.min(1).values)
        i, j = torch.nonzero(e <= (emin + _MARGIN).clamp(max=_CUT).unsqueeze(1), as_tuple=True)
        out.append((i, j + b, e[i, j]))
    i, j, e = (torch.cat(t) for t in zip(*out, strict=True))
    keep = e <= emin[i] + _MARGIN  # the running best only improved: drop what fell behind
    return i[keep], j[keep]


def load_or_build(lib, cache_dir: str | Path, device=None) -> TrajectoryGraph:
    """The cached graph of ``lib`` (``cache_dir/graph-<key>.pt``), built and saved on a miss."""
    key = graph_key(lib)
    path = Path(cache_dir) / f"graph-{key}.pt"
    if path.is_file():
        return TrajectoryGraph.load(path, key).to(device if device is not None else lib.device)
    t0 = time.perf_counter()
    graph = build_graph(lib, device)
    graph.save(path)
    log.info(
        "built trajectory graph %s in %.1f s (%d frames, %d skills, %d edges)",
        path,
        time.perf_counter() - t0,
        graph.num_frames,
        len(graph.skills),
        graph.num_edges,
    )
    return graph
