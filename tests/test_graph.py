"""The stitched trajectory graph: search, exclusions, chunking, file format, cache and CLI."""

import logging
import math
import shutil
from dataclasses import replace

import pytest
import torch

from skillmimic import rotations as rot
from skillmimic.cli import main
from skillmimic.errors import SkillMimicError
from skillmimic.graph import (
    NO_BALL_WEIGHTS,
    TrajectoryGraph,
    build_graph,
    frame_features,
    graph_key,
    load_or_build,
    retime_similarity,
    similarity,
    summary,
)
from skillmimic.graph.similarity import graph_weights
from skillmimic.motion import MotionLibrary
from skillmimic.motion.ballplay import read_ballplay

LAYUP, RUN = "layup/031_015pickle_layup_001_001.pt", "run/013_018pickle_pick2run_3.pt"
LRUN = "lrun/011_018pickle_lrun_1.pt"
SRC, YAW, SHIFT = 60, 0.7, torch.tensor([1.5, -2.0, 0.0])


@pytest.fixture(scope="module")
def clips(ballplay):
    """A layup, a run and a lrun clip relabelled run_no_ball (10: the no-ball weights)."""
    return [read_ballplay(ballplay / LAYUP), read_ballplay(ballplay / RUN), read_ballplay(ballplay / LRUN, skill=10)]


def _paste(dst, src, src_frames, dst_frames, yaw=YAW, shift=SHIFT):
    """``dst`` with frames of ``src`` turned about z by ``yaw`` and moved by ``shift``."""
    q = rot.yaw_quat(torch.tensor(yaw)).expand(len(src_frames), 4)
    new = {}
    for name in ("root_pos", "ball_pos"):
        t = getattr(dst, name).clone()
        t[dst_frames] = rot.quat_rotate(q, getattr(src, name)[src_frames]) + shift
        new[name] = t
    for name in ("root_rot", "ball_rot"):
        t = getattr(dst, name).clone()
        t[dst_frames] = rot.quat_mul(q, getattr(src, name)[src_frames])
        new[name] = t
    for name in ("dof_pos", "contact"):
        t = getattr(dst, name).clone()
        t[dst_frames] = getattr(src, name)[src_frames]
        new[name] = t
    body = dst.body_pos.clone()
    body[dst_frames] = rot.quat_rotate(q.unsqueeze(1), src.body_pos[src_frames]) + shift
    return replace(dst, body_pos=body, **new)


@pytest.fixture(scope="module")
def pasted(clips):
    """Layup frames SRC-1..SRC+1 pasted, turned and moved, into the run clip at 40..42."""
    layup, run, lrun = clips
    return MotionLibrary([layup, _paste(run, layup, [SRC - 1, SRC, SRC + 1], [40, 41, 42]), lrun])


@pytest.fixture(scope="module")
def graph(pasted):
    return build_graph(pasted)


def _column(g, skill):
    return g.skills.tolist().index(skill)


def test_pasted_frame_is_found_turned_and_moved(pasted, graph):
    k = _column(graph, 13)
    row = int(pasted.starts[0]) + SRC
    assert (int(graph.dst_clip[row, k]), int(graph.dst_frame[row, k])) == (1, 41)
    assert graph.sim[row, k] > 0.99
    # and back: the pasted run frame's best layup frame is the original
    row = int(pasted.starts[1]) + 41
    k = _column(graph, 31)
    assert (int(graph.dst_clip[row, k]), int(graph.dst_frame[row, k])) == (0, SRC) and graph.sim[row, k] > 0.99


def test_table_shape_and_no_edges(pasted, graph):
    f, k = pasted.num_frames, len(graph.skills)
    assert graph.skills.tolist() == [10, 13, 31]
    assert graph.dst_clip.shape == graph.dst_frame.shape == graph.sim.shape == (f, k)
    own = pasted.skill_ids[graph.src_clip].unsqueeze(1) == graph.skills
    assert (graph.dst_clip[own] == -1).all() and (graph.dst_frame[own] == -1).all() and (graph.sim[own] == 0).all()
    none = graph.dst_clip < 0
    assert ((graph.dst_frame < 0) == none).all() and (graph.sim[none] == 0).all()
    assert (graph.sim[~none] >= 1e-10).all() and (graph.sim <= 1 + 1e-6).all()
    assert graph.num_edges > 0.9 * f * (k - 1)
    # targets carry the column's skill
    dst_skill, clip, frame, sim = graph.edges(torch.arange(f))
    has = clip >= 0
    assert (pasted.skill_ids[clip[has]] == dst_skill[has]).all()
    assert (graph.src_frame == torch.arange(f) - pasted.starts[graph.src_clip]).all()


def test_matches_the_definition(pasted, graph):
    """The GEMM search equals a brute-force argmax of ``similarity`` with the source's weights."""
    feats = frame_features(pasted)
    frame = torch.arange(pasted.num_frames) - pasted.starts[pasted.frame_clip]
    cand = pasted.valid & (frame >= 2) & (frame != pasted.lengths[pasted.frame_clip] - 1)
    row_skill = pasted.skill_ids[pasted.frame_clip]
    rows = torch.arange(0, pasted.num_frames, 7)
    for r in rows.tolist():
        s = int(row_skill[r])
        sim = similarity({k: v[r : r + 1] for k, v in feats.items()}, feats, graph_weights(s))[0]
        for k, skill in enumerate(graph.skills.tolist()):
            if skill == s:
                continue
            best = torch.where(cand & (row_skill == skill), sim, -1.0).argmax()
            if sim[best] < 1e-10:  # the pasted frames' velocities jump: no good match anywhere
                assert int(graph.dst_clip[r, k]) == -1 and sim[best] < 1e-9
                continue
            assert int(graph.dst_clip[r, k]) == int(pasted.frame_clip[best]), (r, skill)
            assert int(graph.dst_frame[r, k]) == int(frame[best]), (r, skill)
            assert math.isclose(float(graph.sim[r, k]), float(sim[best]), rel_tol=1e-4, abs_tol=1e-9)
    assert graph_weights(10) == NO_BALL_WEIGHTS


def test_excluded_and_missing_frames_never_targets(clips):
    """The exact copy sits at frame 1, at L-1, and at a missing frame: none may be chosen."""
    layup, run, lrun = clips
    n = run.num_frames
    run = _paste(run, layup, [SRC - 1, SRC], [0, 1])
    run = _paste(run, layup, [SRC - 1, SRC], [n - 2, n - 1], yaw=-2.0)
    run = _paste(run, layup, [SRC - 1, SRC, SRC + 1], [80, 81, 82], yaw=2.5)
    valid = torch.ones(n, dtype=torch.bool)
    valid[81] = False
    lib = MotionLibrary([layup, replace(run, valid=valid), lrun])
    g = build_graph(lib)
    k = _column(g, 13)
    row = int(lib.starts[0]) + SRC
    assert int(g.dst_clip[row, k]) == 1 and int(g.dst_frame[row, k]) not in (0, 1, 81, n - 1)
    has = g.dst_clip >= 0
    dst_row = lib.starts[g.dst_clip[has]] + g.dst_frame[has]
    assert lib.valid[dst_row].all()
    assert (g.dst_frame[has] >= 2).all() and (g.dst_frame[has] != lib.lengths[g.dst_clip[has]] - 1).all()
    missing = int(lib.starts[1]) + 81
    assert (g.dst_clip[missing] == -1).all() and (g.sim[missing] == 0).all()


def test_chunk_size_does_not_matter(pasted, graph):
    for chunk, cand_chunk in ((7, 13), (1000, 100000), (33, 64)):
        g = build_graph(pasted, chunk=chunk, cand_chunk=cand_chunk)
        for name in ("dst_clip", "dst_frame", "sim"):
            assert torch.equal(getattr(g, name), getattr(graph, name)), (chunk, cand_chunk, name)


def test_save_load_round_trip_and_key(tmp_path, pasted, graph, clips):
    path = tmp_path / "g.pt"
    graph.save(path)
    back = TrajectoryGraph.load(path, graph_key(pasted))
    for name in ("skills", "clip_skills", "src_clip", "src_frame", "dst_clip", "dst_frame", "sim"):
        assert torch.equal(getattr(back, name), getattr(graph, name)), name
    assert back.clip_names == pasted.names and back.key == graph.key == graph_key(pasted)
    other = MotionLibrary(clips)  # the same clips without the pasted frames
    assert graph_key(other) != graph.key
    with pytest.raises(SkillMimicError) as e:
        TrajectoryGraph.load(path, graph_key(other))
    assert "\n" not in str(e.value) and str(path) in str(e.value) and "other clips" in str(e.value)


def test_load_or_build_caches(tmp_path, pasted, graph, caplog):
    caplog.set_level(logging.INFO, logger="skillmimic")
    g = load_or_build(pasted, tmp_path)
    assert "built trajectory graph" in caplog.text
    assert (tmp_path / f"graph-{graph.key}.pt").is_file() and list(tmp_path.iterdir()) == [
        tmp_path / f"graph-{graph.key}.pt"
    ]
    caplog.clear()
    again = load_or_build(pasted, tmp_path)
    assert caplog.text == ""  # read from the cache: nothing built
    assert torch.equal(again.dst_frame, g.dst_frame) and torch.equal(again.sim, graph.sim)


def test_retime_similarity(pasted):
    feats = frame_features(pasted)
    rows = torch.tensor([30, 100])
    src = {k: v[rows] for k, v in feats.items()}
    clip0 = {k: v[: int(pasted.lengths[0])] for k, v in feats.items()}
    for skill in (31, 10):
        sim = retime_similarity(src, clip0, torch.tensor([skill, skill]))
        assert sim.shape == (2, int(pasted.lengths[0]))
        assert sim.argmax(dim=1).tolist() == rows.tolist() and torch.allclose(sim.max(dim=1).values, torch.ones(2))
    moved = dict(src, ball_pos=src["ball_pos"] + 0.5)  # the ball counts for ball skills only
    assert retime_similarity(moved, clip0, torch.tensor([31, 31]))[0, 30] < 0.9
    assert retime_similarity(moved, clip0, torch.tensor([10, 0]))[0, 30] == pytest.approx(1.0)


def test_cli_build_and_inspect(tmp_path, ballplay, capsys):
    motion = tmp_path / "two"
    for rel in (LAYUP, RUN):
        (motion / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ballplay / rel, motion / rel)
    out = tmp_path / "g.pt"
    assert main(["graph", "build", "--motion", str(motion), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert str(out) in text and "2 skills" in text and "edges" in text
    assert main(["graph", "inspect", str(out)]) == 0
    text = capsys.readouterr().out
    assert "031 layup" in text and "013 dribble_forward" in text and "q50" in text
    assert summary(TrajectoryGraph.load(out)) in text
    assert main(["graph", "inspect", str(ballplay / LAYUP)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not a trajectory graph" in err
