import mujoco
import numpy as np
import pytest

from skillmimic.humanoid import BALL_RADIUS, BODY_NAMES, DOF_KD, DOF_KP, REAL_BALL, SceneConfig, build_model


def test_structure_and_gains():
    m = build_model()
    assert m.nbody == 55  # world + 53 humanoid bodies + ball
    assert [mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_BODY, i) for i in range(1, 54)] == list(BODY_NAMES)
    hinges = [j for j in range(m.njnt) if m.jnt_type[j] == mujoco.mjtJoint.mjJNT_HINGE]
    assert len(hinges) == 156 and m.nu == 156
    assert np.allclose(m.jnt_axis[hinges[:3]], np.eye(3))
    # PD servo: actuator force kp (target - q), clamped at the effort limit; damping kd on the joint
    assert np.allclose(m.actuator_gainprm[:, 0], DOF_KP) and np.allclose(m.actuator_biasprm[:, 2], 0.0)
    assert np.allclose(m.dof_damping[6:162], DOF_KD)
    assert DOF_KP[0] == 500 and DOF_KP[3 * 8] == 1000  # L_Hip, Torso
    assert np.allclose(m.actuator_forcerange[:, 1], 500.0)
    assert m.opt.timestep == pytest.approx(1 / 120)


def test_total_mass_matches_reference():
    m = build_model()
    mass = m.body_subtreemass[1]
    print(f"\nhumanoid mass {mass:.3f} kg (reference 66.6 kg); ball {m.body_mass[54]:.3f} kg")
    assert abs(mass - 66.6) / 66.6 < 0.02
    assert m.body_mass[54] == pytest.approx(4 / 3 * np.pi * 0.12**3 * 1000, rel=1e-6)
    assert build_model(SceneConfig(**REAL_BALL)).body_mass[54] == pytest.approx(0.62)


def _rebound_ratio(cfg: SceneConfig, drop: float = 1.5) -> float:
    m = build_model(cfg)
    d = mujoco.MjData(m)
    d.qpos[0] = 10.0  # humanoid out of the way
    d.qpos[-7:-4] = (0.0, 0.0, drop + BALL_RADIUS)
    mujoco.mj_forward(m, d)
    bounced, apex = False, 0.0
    for _ in range(int(3.0 / m.opt.timestep)):
        mujoco.mj_step(m, d)
        z, vz = d.qpos[-5], d.qvel[-4]
        bounced |= vz > 0
        if bounced:
            apex = max(apex, z)
            if vz < 0:
                break
    return (apex - BALL_RADIUS) / drop


def test_ball_rebound_ratio():
    ratio = _rebound_ratio(SceneConfig())
    print(f"\nball dropped from 1.5 m rebounds to {ratio:.3f} of the drop height")
    assert 0.60 <= ratio <= 0.72
    assert 0.60 <= _rebound_ratio(SceneConfig(**REAL_BALL)) <= 0.72
    # a more damped ball bounces clearly less (so the measurement can fail)
    assert _rebound_ratio(SceneConfig(ball_solref=(-8000.0, -50.0))) < 0.2
