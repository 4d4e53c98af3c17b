"""Simulator layer: MuJoCo Warp (CPU device) against MuJoCo C on identical inputs, resets, NaN, contacts."""

import pytest
import torch

from skillmimic.cli import main
from skillmimic.humanoid import BODIES, BODY_NAMES, HAND_BODIES, SceneConfig, body_index
from skillmimic.motion import MotionLibrary
from skillmimic.sim.base import SimConfig
from skillmimic.sim.factory import make_simulator
from skillmimic.sim.state import SimState, standing_state

BACKENDS = ("mujoco", "mjwarp")
DAMPED = (-8000.0, -180.0)  # train/fast.yaml's scene.ball_body_solref


@pytest.fixture(scope="module")
def layup(ballplay):
    return MotionLibrary.load(ballplay / "layup")


def _pair(n, **cfg):
    return {b: make_simulator(b, n, "cpu", cfg=SimConfig(**cfg)) for b in BACKENDS}


@pytest.mark.slow
def test_parity_standing_pose():
    sims = _pair(2)
    start = standing_state(2)
    targets = torch.zeros(2, 156)
    targets[1, 3 * (body_index("L_Shoulder") - 1) + 2] = -1.0  # world 1 lowers its left arm
    for s in sims.values():
        s.set_state(torch.arange(2), start)
    worst = 0.0
    for _ in range(30):
        for s in sims.values():
            s.step(targets)
        a, b = sims["mujoco"].bodies(), sims["mjwarp"].bodies()
        worst = max(worst, (a.pos - b.pos).norm(dim=-1).max().item())
    print(f"\nstanding pose, 30 control steps: max body position difference {worst * 1000:.4f} mm")
    assert worst < 1e-3
    assert torch.allclose(sims["mujoco"].state().dof_pos, sims["mjwarp"].state().dof_pos, atol=1e-3)
    # the arm really moved, so the comparison covers actuated motion
    assert sims["mujoco"].state().dof_pos[1].abs().max() > 0.3


@pytest.mark.slow
def test_parity_contact_rich_clip_frames(layup):
    """Four layup frames (ball in hand, dribble, release), tracking the clip with PD targets.

    Tolerance 5 mm: float32 (Warp) against float64 (C) plus contact ordering gives ~1e-6 m
    differences that ball-hand contacts amplify; the largest we measured over 30 steps is ~1 mm.
    """
    frames = torch.tensor([10, 40, 70, 100])
    clips = torch.zeros(4, dtype=torch.long)
    sims = _pair(4)
    for s in sims.values():
        s.set_state(torch.arange(4), SimState.from_motion(layup.get(clips, frames)))
    ca, cb = sims["mujoco"].contacts(), sims["mjwarp"].contacts()
    assert torch.equal(ca.ball_body, cb.ball_body) and ca.ball_body.any()
    worst = torch.zeros(4)
    for k in range(30):
        targets = layup.get(clips, frames + k + 1).dof_pos
        for s in sims.values():
            s.step(targets)
        a, b = sims["mujoco"], sims["mjwarp"]
        worst = torch.maximum(worst, (a.bodies().pos - b.bodies().pos).norm(dim=-1).max(dim=1).values)
        worst = torch.maximum(worst, (a.state().ball_pos - b.state().ball_pos).norm(dim=-1))
    print(
        f"\nlayup frames {frames.tolist()}, 30 control steps: max body/ball difference per world "
        f"{[f'{1000 * w:.3f} mm' for w in worst.tolist()]}"
    )
    assert worst.max() < 5e-3


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_reset_subset_leaves_others_bit_identical(backend, layup):
    n = 3
    start = SimState.from_motion(layup.get(torch.zeros(n, dtype=torch.long), torch.tensor([20, 60, 90])))
    a = make_simulator(backend, n)
    b = make_simulator(backend, n)
    for s in (a, b):
        s.set_state(torch.arange(n), start)
    targets = start.dof_pos
    for k in range(8):
        for s in (a, b):
            s.step(targets)
        if k == 3:  # reset world 1 of `a` only, to another frame
            a.set_state(torch.tensor([1]), SimState.from_motion(layup.get(torch.tensor([0]), torch.tensor([5]))))
    keep = torch.tensor([0, 2])
    assert torch.equal(a.qpos[keep], b.qpos[keep]) and torch.equal(a.qvel[keep], b.qvel[keep])
    assert torch.equal(a.bodies().pos[keep], b.bodies().pos[keep])
    assert not torch.equal(a.qpos[1], b.qpos[1])


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_nan_world_is_flagged_and_recovers(backend):
    n = 3
    sim, clean = make_simulator(backend, n), make_simulator(backend, n)
    start = standing_state(n)
    for s in (sim, clean):
        s.set_state(torch.arange(n), start)
    broken = start.index(torch.tensor([1]))
    broken.dof_vel = broken.dof_vel.clone()
    broken.dof_vel[0, 10] = float("nan")
    sim.set_state(torch.tensor([1]), broken)
    targets = torch.zeros(n, 156)
    for s in (sim, clean):
        s.step(targets)
    one_step = clean.qpos.clone()
    assert sim.diverged().tolist() == [False, True, False]
    sim.set_state(torch.tensor([1]), start.index(torch.tensor([1])))
    assert not sim.diverged().any()
    for s in (sim, clean):
        s.step(targets)
    assert not sim.diverged().any()
    # the healthy worlds never noticed
    assert torch.equal(sim.qpos[[0, 2]], clean.qpos[[0, 2]])
    # after its reset, world 1 takes the same step as a world that was never broken
    assert torch.allclose(sim.qpos[1], one_step[1], atol=1e-6)


def _contact_case(backend):
    """World 0: ball resting in the right hand; 1: on the floor; 2: in the air."""
    n = 3
    sim = make_simulator(backend, n)
    start = standing_state(n)
    sim.set_state(torch.arange(n), start)
    # place the ball so it presses 5 mm into the right middle finger's mid segment, from above
    pos = sim.bodies().pos[0]
    finger = 0.5 * (pos[body_index("R_Middle2")] + pos[body_index("R_Middle3")])
    start.ball_pos = start.ball_pos.clone()
    start.ball_pos[0] = finger + torch.tensor([0.0, 0.0, 0.12 + 0.0071 - 0.005])
    start.ball_pos[1, 2] = 0.12 - 0.003  # 3 mm into the floor
    start.ball_pos[2] = torch.tensor([3.0, 3.0, 2.0])
    sim.set_state(torch.arange(n), start)
    return sim.contacts(threshold=0.1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_contact_readout_constructed_cases(backend):
    c = _contact_case(backend)
    hand = [BODY_NAMES[i] for i in c.ball_body[0].nonzero().flatten()]
    assert hand and all(n in HAND_BODIES and n.startswith("R_") for n in hand), hand
    assert c.ball_body_force[0].sum() > 0.1 and not c.ball_floor[0]
    assert not c.ball_body[1].any() and c.ball_floor[1]
    assert not c.ball_body[2].any() and not c.ball_floor[2] and c.ball_body_force[2].sum() == 0
    # body-anything: the fingers holding the ball and the feet on the floor count, the head does not
    assert c.body_any[0, c.ball_body[0]].all() and c.body_any[:, body_index("L_Toe")].all()
    assert not c.body_any[:, body_index("Head")].any()


@pytest.mark.slow
@pytest.mark.parametrize("body_solref", [None, DAMPED])
@pytest.mark.parametrize("backend", BACKENDS)
def test_ball_touch_distance_counts_near_contacts_and_leaves_the_physics_alone(backend, body_solref, layup):
    """World 0: ball 3 mm above the right middle finger; 1: 3 mm above the floor; 2: 8 mm above it.
    With ``ball_body_solref`` the hand contacts come from explicit pairs, which carry the gap too."""
    n = 3
    sims = {
        d: make_simulator(backend, n, scene=SceneConfig(ball_touch_distance=d, ball_body_solref=body_solref))
        for d in (0.0, 0.005)
    }
    start = standing_state(n)
    sims[0.0].set_state(torch.arange(n), start)
    pos = sims[0.0].bodies().pos[0]
    finger = 0.5 * (pos[body_index("R_Middle2")] + pos[body_index("R_Middle3")])
    start.ball_pos = start.ball_pos.clone()
    start.ball_pos[0] = finger + torch.tensor([0.0, 0.0, 0.12 + 0.0071 + 0.003])
    start.ball_pos[1, 2] = 0.12 + 0.003
    start.ball_pos[2, 2] = 0.12 + 0.008
    for s in sims.values():
        s.set_state(torch.arange(n), start)
    near, plain = sims[0.005].contacts(), sims[0.0].contacts()
    hand = [BODY_NAMES[i] for i in near.ball_body[0].nonzero().flatten()]
    assert hand and all(h in HAND_BODIES and h.startswith("R_") for h in hand), hand
    assert near.ball_floor.tolist() == [False, True, False]
    assert not plain.ball_body.any() and not plain.ball_floor.any()
    assert near.ball_body_force.sum() == 0  # listed, but no force: nothing touches yet
    # the same clip frames (ball in hand) tracked for 20 steps: identical physics either way
    frames, clips = torch.tensor([10, 70, 100]), torch.zeros(n, dtype=torch.long)
    for s in sims.values():
        s.set_state(torch.arange(n), SimState.from_motion(layup.get(clips, frames)))
    for k in range(20):
        for s in sims.values():
            s.step(layup.get(clips, frames + k + 1).dof_pos)
    a, b = sims[0.0].state(), sims[0.005].state()
    assert torch.allclose(a.dof_pos, b.dof_pos, atol=1e-4) and torch.allclose(a.ball_pos, b.ball_pos, atol=1e-4)


@pytest.mark.slow
def test_damped_ball_body_contacts_take_the_rebound_out_of_the_body_only():
    """A ball dropped 0.3 m onto the head (world 0) and onto the floor (world 1): with
    ``ball_body_solref`` the head's rebound drops, the floor's bounce is unchanged, on both backends."""
    up = {}
    for backend in BACKENDS:
        for solref in (None, DAMPED):
            sim = make_simulator(backend, 2, scene=SceneConfig(ball_body_solref=solref))
            start = standing_state(2)
            sim.set_state(torch.arange(2), start)
            head = sim.bodies().pos[0, body_index("Head")]
            start.ball_pos = start.ball_pos.clone()
            start.ball_pos[0] = head + torch.tensor([0.0, 0.0, BODIES[body_index("Head")].geom.size[0] + 0.42])
            start.ball_pos[1] = torch.tensor([2.0, 0.0, 0.42])
            sim.set_state(torch.arange(2), start)
            fastest = torch.zeros(2)
            for _ in range(30):
                sim.step(torch.zeros(2, 156))
                fastest = torch.maximum(fastest, sim.state().ball_vel[:, 2])
            up[backend, solref] = fastest
    for backend in BACKENDS:
        plain, damped = up[backend, None], up[backend, DAMPED]
        print(f"\n{backend}: rebound off the head {plain[0]:.2f} -> {damped[0]:.2f} m/s, floor {plain[1]:.2f}")
        assert plain[0] > 1.2 and damped[0] < 0.5 * plain[0]
        assert plain[1] > 1.8 and torch.isclose(plain[1], damped[1], atol=1e-4)
    assert all(torch.allclose(up["mujoco", k], up["mjwarp", k], atol=1e-3) for k in (None, DAMPED))


def test_overflow_is_detected_and_names_the_setting(layup):
    sim = make_simulator("mjwarp", 2, "cpu", cfg=SimConfig(nconmax=2, njmax=256))
    sim.set_state(
        torch.arange(2), SimState.from_motion(layup.get(torch.zeros(2, dtype=torch.long), torch.tensor([10, 40])))
    )
    assert sim.diverged().any()
    msg = sim.overflow_report()
    assert msg is not None and "sim.nconmax (now 2)" in msg
    assert make_simulator("mjwarp", 2, "cpu").overflow_report() is None


def test_bad_arguments(capsys):
    sim = make_simulator("mujoco", 2)
    with pytest.raises(ValueError, match=r"\[2, 156\]"):
        sim.step(torch.zeros(2, 10))
    assert main(["bench", "sim", "--backend", "mujoco", "--device", "cuda", "--envs", "2"]) == 2
    # MuJoCo C runs on the CPU only; without a GPU the device itself is refused first
    expected = "CPU only" if torch.cuda.is_available() else "no such CUDA device"
    assert expected in capsys.readouterr().err


def test_bench_sim_json(tmp_path, capsys):
    out = tmp_path / "b.json"
    assert (
        main(
            ["bench", "sim", "--backend", "mujoco", "--envs", "4", "--steps", "5", "--warmup", "1", "--json", str(out)]
        )
        == 0
    )
    import json

    r = json.loads(out.read_text())
    assert r["world_steps_per_s"] > 0 and r["envs"] == 4 and r["machine"]["cpu_count"] >= 1
    assert "world-steps/s" in capsys.readouterr().out


def test_mujoco_step_equals_plain_substeps(layup):
    """MuJoCo C's control step (``mj_step2`` reusing the last forward pass, then ``mj_step``s and a
    forward pass) gives bit for bit the state of plain ``mj_step`` substeps, resets included."""
    import mujoco

    from skillmimic.sim.state import state_to_qpos_qvel

    n = 3
    start = SimState.from_motion(layup.get(torch.zeros(n, dtype=torch.long), torch.tensor([20, 60, 90])))
    sim = make_simulator("mujoco", n)
    sim.set_state(torch.arange(n), start)
    qpos, qvel = state_to_qpos_qvel(start)
    m = sim.model
    ref = [mujoco.MjData(m) for _ in range(n)]
    for i, d in enumerate(ref):
        d.qpos[:], d.qvel[:] = qpos[i].double().numpy(), qvel[i].double().numpy()
        mujoco.mj_forward(m, d)
    g = torch.Generator().manual_seed(0)
    for k in range(12):
        targets = start.dof_pos + 0.2 * torch.randn(n, 156, generator=g)
        sim.step(targets)
        for i, d in enumerate(ref):
            d.ctrl[:] = targets[i].double().numpy()
            for _ in range(sim.substeps):
                mujoco.mj_step(m, d)
            mujoco.mj_forward(m, d)
        if k == 5:  # a reset in between: the reset's forward pass must be reused correctly too
            sim.set_state(torch.tensor([1]), start.index(torch.tensor([0])))
            d = ref[1]
            mujoco.mj_resetData(m, d)
            d.qpos[:], d.qvel[:] = qpos[0].double().numpy(), qvel[0].double().numpy()
            mujoco.mj_forward(m, d)
    for i, d in enumerate(ref):
        w = sim.datas[i]
        for name in ("qpos", "qvel", "qacc", "efc_force", "xpos", "cvel"):
            assert (getattr(w, name) == getattr(d, name)).all(), (i, name)
        assert w.ncon == d.ncon and w.ncon > 0
