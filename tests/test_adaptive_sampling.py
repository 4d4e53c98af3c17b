"""Adaptive trajectory sampling: the weight formulas by hand, where it samples after learning,
alpha = 0, missing frames, checkpointed state, and the env feeding it finished episodes."""

import math
import shutil

import pytest
import torch

from skillmimic.config import AdaptiveSamplingConfig
from skillmimic.envs.adaptive_sampling import AdaptiveStartSampler
from skillmimic.envs.imitation import ImitationEnv
from skillmimic.envs.sampling import UniformStartSampler
from skillmimic.motion import MotionLibrary
from skillmimic.sim.factory import make_simulator

LAYUP = "layup/031_015pickle_layup_001_001.pt"
RUNS = ("run/013_018pickle_run2_3.pt", "run/013_018pickle_run_3.pt")


@pytest.fixture(scope="module")
def lib(ballplay, tmp_path_factory):
    root = tmp_path_factory.mktemp("ats")
    for rel in (LAYUP, *RUNS):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ballplay / rel, root / rel)
    return MotionLibrary.load(root)


def _sampler(lib, alpha=1.0, seed=0):
    return AdaptiveStartSampler(
        lib, AdaptiveSamplingConfig(enabled=True, alpha=alpha), torch.Generator().manual_seed(seed)
    )


def test_weights_match_a_hand_computed_example(lib):
    s = _sampler(lib, alpha=0.5)
    layup = int((lib.skill_ids == 31).nonzero()[0])
    run0, run1 = (int(i) for i in (lib.skill_ids == 13).nonzero().flatten())
    rec = torch.zeros(len(s.start_rows), dtype=torch.float64)
    rec[s.clip_of == run0] = 0.2
    rec[s.clip_of == run1] = 0.4
    first = int((s.clip_of == layup).nonzero()[0])
    rec[first] = 0.5  # one layup start scored well, the rest of the layup clip is unvisited (0)
    s.record.copy_(rec)
    s.update()
    n_layup = int(s.count[layup])
    r_layup = 0.5 / n_layup
    # clip level by hand: class weights, intra-class weights, product, mix with the balanced sampler
    cls = {run0: math.exp(-5 * 0.3), run1: math.exp(-5 * 0.3), layup: math.exp(-5 * r_layup)}
    total = sum(cls.values())
    e1, e2 = math.exp(-5 * 0.2), math.exp(-5 * 0.4)
    intra = {run0: e1 / (e1 + e2), run1: e2 / (e1 + e2), layup: 1.0}
    combined = {c: cls[c] / total * intra[c] for c in cls}
    z = sum(combined.values())
    balanced = {run0: 0.25, run1: 0.25, layup: 0.5}
    for c in cls:
        assert float(s.clip_weights[c]) == pytest.approx(0.5 * balanced[c] + 0.5 * combined[c] / z, rel=1e-6)
    # frame level by hand, layup clip: softmax(-10 R) over its starts, mixed with uniform
    soft_hi = math.exp(-5.0) / (math.exp(-5.0) + (n_layup - 1))
    soft_lo = 1.0 / (math.exp(-5.0) + (n_layup - 1))
    w = s.frame_weights[s.clip_of == layup]
    assert float(w[0]) == pytest.approx(0.5 / n_layup + 0.5 * soft_hi, rel=1e-9)
    assert float(w[1]) == pytest.approx(0.5 / n_layup + 0.5 * soft_lo, rel=1e-9)
    assert float(w.sum()) == pytest.approx(1.0)


def test_low_reward_starts_are_drawn_more_often(lib):
    s = _sampler(lib)
    clip = int((lib.skill_ids == 31).nonzero()[0])
    frames = s.start_rows[s.clip_of == clip] - lib.starts[clip]
    half = int(frames.max()) // 2
    # synthetic episodes: the first half of the layup clip is easy (reward 0.8), the second hard (0.1)
    for _ in range(3):
        reward = torch.where(frames < half, 0.8, 0.1).float()
        s.record_episodes(torch.full_like(frames, clip), frames, reward)
    s.update()
    drawn = s.sample(torch.arange(40000))
    mine = drawn.clips == clip
    late = (drawn.frames[mine] >= half).float().mean()
    # expected: softmax(-10 R) with R = 0.7 (easy) and 0.0875 (hard) after three blends
    n_easy, n_hard = int((frames < half).sum()), int((frames >= half).sum())
    r_easy, r_hard = 0.8 * (1 - 0.5**3), 0.1 * (1 - 0.5**3)
    p_hard = n_hard * math.exp(-10 * r_hard) / (n_hard * math.exp(-10 * r_hard) + n_easy * math.exp(-10 * r_easy))
    assert float(late) == pytest.approx(p_hard, abs=0.02) and p_hard > 0.95
    # the layup clip scored, the runs are unvisited: the layup (half the draws when balanced) drops
    assert float(mine.float().mean()) < 0.4


def test_alpha_zero_is_the_class_balanced_uniform_sampler(lib):
    s = _sampler(lib, alpha=0.0)
    s.record_episodes(torch.zeros(5, dtype=torch.long), torch.arange(5), torch.rand(5))
    s.update()
    uniform = UniformStartSampler(lib, torch.Generator().manual_seed(0))
    torch.testing.assert_close(s.clip_weights, uniform.clip_weights / uniform.clip_weights.sum())
    torch.testing.assert_close(s.frame_weights, 1.0 / s.count[s.clip_of].double())


def test_missing_frames_are_never_drawn(ballplay, tmp_path):
    data = torch.load(ballplay / LAYUP, map_location="cpu", weights_only=True)
    data[10:40] = 0
    torch.save(data, tmp_path / "031_masked.pt")
    masked = MotionLibrary.load(tmp_path)
    s = _sampler(masked)
    s.record_episodes(torch.zeros(3, dtype=torch.long), torch.tensor([5, 50, 60]), torch.tensor([0.9, 0.9, 0.9]))
    s.update()
    frames = s.sample(torch.arange(20000)).frames
    assert masked.valid[frames].all() and ((frames < 10) | (frames >= 40)).all()


def test_resume_restores_the_weights_exactly(lib):
    s = _sampler(lib)
    s.record_episodes(torch.tensor([0, 1, 2]), torch.tensor([3, 4, 5]), torch.tensor([0.3, 0.1, 0.9]))
    s.update()
    state = s.state_dict()
    t = _sampler(lib, seed=123)
    t.load_state_dict(state)
    assert torch.equal(t.clip_weights, s.clip_weights) and torch.equal(t.frame_weights, s.frame_weights)
    assert torch.equal(t.record, s.record) and t.updates == s.updates == 1
    a, b = s.sample(torch.arange(50)), t.sample(torch.arange(50))
    assert torch.equal(a.clips, b.clips) and torch.equal(a.frames, b.frames)


def test_the_env_feeds_finished_episodes_and_steps(lib):
    cfg = AdaptiveSamplingConfig(enabled=True, period=20)
    s = AdaptiveStartSampler(lib, cfg, torch.Generator().manual_seed(0))
    env = ImitationEnv(lib, make_simulator("mujoco", 8), sampler=s)
    env.reset()
    for _ in range(40):
        env.step(torch.zeros(8, env.num_actions))
    assert s.steps == 40 and s.updates == 2
    assert int(s.visits.sum()) == env.totals["falls"] + env.totals["timeouts"] + env.totals["diverged"] > 0
    assert (s.record[s.visits > 0] > 0).any() and torch.isfinite(s.record).all()
    assert (s.frame_weights != 1.0 / s.count[s.clip_of].double()).any()  # moved away from uniform
