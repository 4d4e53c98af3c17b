"""The BallPlay humanoid and its scene (humanoid + ball + floor), built with ``mujoco.MjSpec``.

The numbers reproduce the upstream ``mocap_humanoid.xml``: 53 bodies in the same depth-first
order as the motion data, 52 of them with three serial hinges (x, y, z), capsule/sphere/box
geoms with the same sizes and densities, and PD gains per joint (kd = kp / 10 everywhere).
The model is authored y-up (legs along -y, +x is the character's left); the root rotation
in the data carries it to the z-up world.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import mujoco
import numpy as np

from skillmimic.errors import SkillMimicError


class Geom(NamedTuple):
    kind: str  # "sphere" | "capsule" | "box"
    size: tuple  # sphere (r,), capsule (r,), box half-extents (x, y, z)
    pos: tuple = (0.0, 0.0, 0.0)  # sphere/box centre
    fromto: tuple | None = None  # capsule end points
    density: float = 1000.0


class Body(NamedTuple):
    name: str
    parent: str | None
    offset: tuple
    kp: float  # position gain (N m / rad); damping kd = kp / 10
    geom: Geom


def _cap(r, a, b, density=1000.0):
    return Geom("capsule", (r,), fromto=tuple(a) + tuple(b), density=density)


def _finger(r, length, side):
    return _cap(r, (0, 0, 0), (side * length, 0, 0))


def _hand(prefix: str, side: float, fingers: dict) -> list[Body]:
    """Five three-segment fingers; ``fingers`` maps name -> (offset, [(length, radius)] * 3)."""
    out = []
    wrist = f"{prefix}_Wrist"
    for finger, (offset, segments) in fingers.items():
        parent, off = wrist, offset
        for i, (length, radius) in enumerate(segments, start=1):
            name = f"{prefix}_{finger}{i}"
            if finger == "Thumb" and i == 1:  # the thumb's first segment bends up by 1 cm
                geom = _cap(radius, (0, 0, 0), (side * length, 0, 0.01))
                nxt = (side * length, 0, 0.01)
            else:
                geom = _finger(radius, length, side)
                nxt = (side * length, 0, 0)
            out.append(Body(name, parent, tuple(off), 100.0, geom))
            parent, off = name, nxt
    return out


def _leg(prefix: str, side: float, hip_r: float, knee_r: float) -> list[Body]:
    return [
        Body(
            f"{prefix}_Hip",
            "Pelvis",
            (side * 0.109716, -0.0365719, 0),
            500.0,
            _cap(hip_r, (0, -0.1, 0), (0, -0.461208, 0.0256003), 2040.816327),
        ),
        Body(
            f"{prefix}_Knee",
            f"{prefix}_Hip",
            (0, -0.461208, 0.0256003),
            500.0,
            _cap(knee_r, (0, -0.1, 0), (0, -0.364385, -0.0256003), 1234.567901),
        ),
        # Upstream leaves the foot and toe densities empty; MuJoCo's default (1000) applies.
        Body(
            f"{prefix}_Ankle",
            f"{prefix}_Knee",
            (0, -0.364385, -0.0256003),
            400.0,
            Geom("box", (0.0498, 0.0464, 0.0857), pos=(0, -0.07, 0.0142)),
        ),
        Body(f"{prefix}_Toe", f"{prefix}_Ankle", (0, -0.0986496, 0.156582), 200.0, Geom("box", (0.0478, 0.02, 0.0495))),
    ]


def _arm(prefix: str, side: float, radii: tuple, wrist_r: float) -> list[Body]:
    s = side
    return [
        Body(
            f"{prefix}_Thorax",
            "Chest",
            (s * 0.018286, -0.0295385, 0.0365719),
            400.0,
            _cap(radii[0], (s * 0.1, 0, 0), (s * 0.166499, 0, 0)),
        ),
        Body(
            f"{prefix}_Shoulder",
            f"{prefix}_Thorax",
            (s * 0.166499, 0, 0),
            400.0,
            _cap(radii[1], (s * 0.1, 0, 0), (s * 0.252505, 0, 0)),
        ),
        Body(
            f"{prefix}_Elbow",
            f"{prefix}_Shoulder",
            (s * 0.252505, 0, 0),
            300.0,
            _cap(radii[2], (s * 0.1, 0, 0), (s * 0.223894, 0, 0)),
        ),
        Body(f"{prefix}_Wrist", f"{prefix}_Elbow", (s * 0.243894, 0, 0), 100.0, _finger(wrist_r, 0.06, s)),
    ]


_SPINE_Z = 0.0279775
BODIES: tuple[Body, ...] = tuple(
    [Body("Pelvis", None, (0, 0, 0), 0.0, Geom("sphere", (0.0985,), density=4629.6296296296305))]
    + _leg("L", 1.0, 0.0605, 0.0533)
    + _leg("R", -1.0, 0.0598, 0.0551)
    + [
        Body("Torso", "Pelvis", (0, 0.0877726, -_SPINE_Z), 1000.0, Geom("sphere", (0.05011,), (0, 0.05, _SPINE_Z))),
        Body("Spine", "Torso", (0, 0.106124, 0), 1000.0, Geom("sphere", (0.06011,), (0, 0.05, _SPINE_Z))),
        Body("Spine2", "Spine", (0, 0.106124, 0), 1000.0, Geom("sphere", (0.07011,), (0, 0.05, _SPINE_Z))),
        Body("Chest", "Spine2", (0, 0.166951, 0), 1000.0, Geom("sphere", (0.011,), (0, -0.05, _SPINE_Z))),
        Body("Neck", "Chest", (0, 0.084247, 0.0146288), 100.0, _cap(0.0419, (0, 0, 0), (0, 0.0509716, 0))),
        Body("Head", "Neck", (0, 0.109716, 0), 100.0, Geom("sphere", (0.1011,), (0, 0.03, _SPINE_Z))),
    ]
    + _arm("L", 1.0, (0.0488, 0.0522, 0.0401), 0.0103)
    + _hand(
        "L",
        1.0,
        {
            "Index": ((0.100362, 0, 0.0561204), [(0.0343, 0.0092), (0.02401, 0.0075), (0.0149205, 0.0068)]),
            "Middle": ((0.0927298, 0, 0.029047), [(0.04116, 0.0094), (0.028812, 0.007), (0.0179046, 0.0063)]),
            "Pinky": ((0.0774654, 0, -0.0250997), [(0.0267662, 0.007), (0.0187364, 0.0063), (0.0116433, 0.0051)]),
            "Ring": ((0.0850976, 0, 0.00197363), [(0.039445, 0.0079), (0.0276115, 0.0072), (0.0171586, 0.006)]),
            "Thumb": ((0.0444569, 0, 0.0673445), [(0.0294, 0.0122), (0.02058, 0.0093), (0.012789, 0.0087)]),
        },
    )
    + _arm("R", -1.0, (0.0536, 0.0521, 0.0404), 0.01)
    + _hand(
        "R",
        -1.0,
        {
            "Index": ((-0.0953267, 0, 0.0454889), [(0.0343, 0.0092), (0.02401, 0.0076), (0.0149205, 0.0069)]),
            "Middle": ((-0.0891353, 0, 0.0223232), [(0.04116, 0.0094), (0.028812, 0.0071), (0.0179046, 0.0064)]),
            "Pinky": ((-0.0767525, 0, -0.0240082), [(0.0267662, 0.007), (0.0187364, 0.0063), (0.0116433, 0.0052)]),
            "Ring": ((-0.0829439, 0, -0.000842496), [(0.039445, 0.0079), (0.0276115, 0.0072), (0.0171586, 0.006)]),
            "Thumb": ((-0.0430198, 0, 0.0545867), [(0.0294, 0.0122), (0.02058, 0.0093), (0.012789, 0.009)]),
        },
    )
)

BODY_NAMES: tuple[str, ...] = tuple(b.name for b in BODIES)
NUM_BODIES = len(BODIES)  # 53
NUM_JOINTS = NUM_BODIES - 1  # 52 hinge triplets
NUM_DOFS = 3 * NUM_JOINTS  # 156
BODY_PARENTS: tuple[int, ...] = tuple(-1 if b.parent is None else BODY_NAMES.index(b.parent) for b in BODIES)
BODY_OFFSETS = np.array([b.offset for b in BODIES], dtype=np.float64)
DOF_KP = np.repeat([b.kp for b in BODIES[1:]], 3).astype(np.float64)
DOF_KD = DOF_KP / 10.0


def body_index(name: str) -> int:
    return BODY_NAMES.index(name)


# Upstream body sets, by name (indices follow BODY_NAMES).
KEY_BODIES = (
    "Head",
    "L_Knee",
    "R_Knee",
    "L_Elbow",
    "R_Elbow",
    "L_Ankle",
    "R_Ankle",
    "L_Index3",
    "L_Middle3",
    "L_Pinky3",
    "L_Ring3",
    "L_Thumb3",
    "R_Index3",
    "R_Middle3",
    "R_Pinky3",
    "R_Ring3",
    "R_Thumb3",
)
FINGERTIPS = KEY_BODIES[7:]
FINGERS = ("Index", "Middle", "Pinky", "Ring", "Thumb")
HAND_BODIES = tuple(n for n in BODY_NAMES if n[2:] == "Wrist" or n[2:].startswith(FINGERS))
# The 90 hinges of the 30 finger bodies, and the other 66 (body, wrists included): hinge d belongs
# to body 1 + d // 3. ``env.fingers: skill_pose`` lets the policy drive only BODY_DOFS.
FINGER_DOFS: tuple[int, ...] = tuple(d for d in range(NUM_DOFS) if BODY_NAMES[1 + d // 3][2:].startswith(FINGERS))
BODY_DOFS: tuple[int, ...] = tuple(d for d in range(NUM_DOFS) if d not in FINGER_DOFS)
# Bodies that must not touch anything (the contact-graph "body" node): pelvis, hips, knees,
# torso chain, neck, head, thoraxes, shoulders and elbows.
NO_CONTACT_BODIES = (
    "Pelvis",
    "L_Hip",
    "L_Knee",
    "R_Hip",
    "R_Knee",
    "Torso",
    "Spine",
    "Spine2",
    "Chest",
    "Neck",
    "Head",
    "L_Thorax",
    "L_Shoulder",
    "L_Elbow",
    "R_Thorax",
    "R_Shoulder",
    "R_Elbow",
)

BALL_RADIUS = 0.12
BALL_SPIN_ROLL_FRICTION = (0.005, 0.0001)  # the ball's torsional and rolling friction, wherever it touches


@dataclass(frozen=True)
class SceneConfig:
    """Physical settings of the scene; defaults reproduce the upstream setup."""

    timestep: float = 1.0 / 120.0  # physics at 120 Hz: two substeps per 60 Hz control step
    ball_mass: float = 4.0 / 3.0 * np.pi * BALL_RADIUS**3 * 1000.0  # density 1000 -> ~7.24 kg
    # Direct solref (-stiffness, -damping) of ball contacts. Calibrated so a ball dropped from
    # 1.5 m on the floor rebounds to ~0.66 of the drop height (upstream restitution 0.81).
    ball_solref: tuple[float, float] = (-8000.0, -11.0)
    ball_friction: float = 0.9
    effort_limit: float = 500.0  # N m, the upstream motor gear
    armature: float = 0.02
    floor_friction: float = 1.0
    solver_iterations: int = 10
    solver_ls_iterations: int = 20
    self_collision: bool = True
    # m; > 0: a body within this distance of the ball touches it (reward, contact labels). The
    # ball geom gets this gap, so MuJoCo lists such near contacts without any force: the physics
    # is unchanged, but a ball jiggling a millimetre off a palm no longer reads as lost.
    ball_touch_distance: float = 0.0
    # MuJoCo solref of the ball's contacts with the humanoid; None: ``ball_solref``, so the ball
    # bounces off a hand as off the floor (restitution ~0.81). (-8000, -180) is critically damped
    # at the same stiffness: a hand takes the ball without a rebound, the floor keeps its bounce.
    ball_body_solref: tuple[float, float] | None = None


# A real basketball: 0.62 kg (size 7) instead of the upstream density-1000 sphere.
REAL_BALL = dict(ball_mass=0.62)


def build_spec(cfg: SceneConfig = SceneConfig()) -> mujoco.MjSpec:
    """The scene as an ``MjSpec``: floor, humanoid (free root + 156 hinges + 156 actuators), ball."""
    spec = mujoco.MjSpec()
    spec.modelname = "skillmimic_ballplay"
    spec.compiler.degree = False
    opt = spec.option
    opt.timestep = cfg.timestep
    # Implicit-in-velocity integration keeps the stiff finger PD loops (kd/armature ~ 500 1/s)
    # stable at 120 Hz; explicit Euler diverges there.
    opt.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    opt.solver = mujoco.mjtSolver.mjSOL_NEWTON
    opt.iterations = cfg.solver_iterations
    opt.ls_iterations = cfg.solver_ls_iterations
    opt.gravity = (0.0, 0.0, -9.81)
    # Our only convex-convex pairs are the box feet. MuJoCo C collides boxes with its box-box
    # routine either way (identical contacts on every 7th BallPlay-M frame, checked); MuJoCo Warp
    # then uses its primitive box-box collider instead of the convex (CCD) kernels, which take
    # 8-60 s each to compile on CUDA.
    opt.disableflags |= mujoco.mjtDisableBit.mjDSBL_NATIVECCD

    _add_visuals(spec)
    world = spec.worldbody
    world.add_light(
        pos=(0, 0, 4), dir=(0, 0, -1), type=mujoco.mjtLightType.mjLIGHT_DIRECTIONAL, diffuse=(0.8, 0.8, 0.8)
    )
    world.add_geom(
        name="floor",
        type=mujoco.mjtGeom.mjGEOM_PLANE,
        size=(100, 100, 0.2),
        condim=3,
        friction=(cfg.floor_friction, 0.005, 0.0001),
        material="floor",
    )

    _add_humanoid(spec, cfg)
    _add_ball(spec, cfg)

    for b in BODIES[1:]:
        for label in "xyz":
            act = spec.add_actuator(
                name=f"{b.name}_{label}", target=f"{b.name}_{label}", trntype=mujoco.mjtTrn.mjTRN_JOINT
            )
            # PD servo: the P part is the actuator, clamped at the effort limit; the D part is joint
            # damping, which the integrator treats implicitly and never clamps. A clamped actuator
            # kv (MuJoCo's position actuator damping) destabilises the upper body at 120 Hz.
            act.set_to_position(kp=b.kp, kv=0.0)
            act.ctrllimited = mujoco.mjtLimited.mjLIMITED_TRUE
            act.ctrlrange = (-np.pi, np.pi)
            act.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
            act.forcerange = (-cfg.effort_limit, cfg.effort_limit)
    if cfg.self_collision:
        _exclude_close_pairs(spec)
    if cfg.ball_body_solref is not None:
        _ball_body_pairs(spec, cfg)
    return spec


def _ball_body_pairs(spec: mujoco.MjSpec, cfg: SceneConfig) -> None:
    """Ball-humanoid contacts with their own solref: an explicit pair per body geom replaces the
    contact MuJoCo would derive from the geoms (excluded), everything else stays as the ball geom says."""
    spin, roll = BALL_SPIN_ROLL_FRICTION
    for b in BODIES:
        spec.add_exclude(bodyname1="ball", bodyname2=b.name)
        spec.add_pair(
            geomname1="ball_geom",
            geomname2=f"{b.name}_geom",
            condim=3,
            friction=(cfg.ball_friction, cfg.ball_friction, spin, roll, roll),  # a pair lists both tangents
            solref=cfg.ball_body_solref,
            gap=cfg.ball_touch_distance,
        )


def _exclude_close_pairs(spec: mujoco.MjSpec) -> None:
    """Self-collision is on, except between bodies two joints apart and pairs overlapping at rest.

    MuJoCo skips parent-child pairs only. Grandparent pairs (spine sphere and shoulder girdle,
    thigh and foot, finger segments) touch through the capsule approximation whenever the joint
    between them bends a little, and the thumb's first and last segments overlap in the rest
    pose: both would be permanent artificial contacts (and "forbidden" trunk contacts in the
    reward) that no real body has.
    """
    pairs = {(BODY_PARENTS[BODY_PARENTS[b]], b) for b in range(NUM_BODIES) if BODY_PARENTS[b] > 0}
    model = spec.compile()
    data = mujoco.MjData(model)
    data.qpos[2] = 2.0  # lift off the floor
    mujoco.mj_forward(model, data)
    for k in range(data.ncon):
        b1, b2 = (int(model.geom_bodyid[g]) - 1 for g in (data.contact.geom1[k], data.contact.geom2[k]))
        if 0 <= b1 < NUM_BODIES and 0 <= b2 < NUM_BODIES:
            pairs.add((min(b1, b2), max(b1, b2)))
    for b1, b2 in sorted(pairs):
        spec.add_exclude(bodyname1=BODY_NAMES[b1], bodyname2=BODY_NAMES[b2])


def _add_humanoid(spec: mujoco.MjSpec, cfg: SceneConfig, prefix: str = "", ghost: bool = False) -> None:
    """The 53 bodies with their hinges and geoms; a ghost is a translucent copy that collides with nothing."""
    bodies: dict[str, mujoco.MjsBody] = {}
    for b in BODIES:
        parent = spec.worldbody if b.parent is None else bodies[b.parent]
        body = parent.add_body(name=prefix + b.name, pos=b.offset)
        bodies[b.name] = body
        if b.parent is None:
            body.add_freejoint(name=prefix + "root")
        else:
            for axis, label in enumerate("xyz"):
                joint = body.add_joint(
                    name=f"{prefix}{b.name}_{label}",
                    type=mujoco.mjtJoint.mjJNT_HINGE,
                    axis=np.eye(3)[axis],
                    armature=cfg.armature,
                    limited=mujoco.mjtLimited.mjLIMITED_TRUE,
                    range=(-np.pi, np.pi),
                )
                joint.damping[0] = b.kp / 10.0
        _add_geom(body, b.geom, f"{prefix}{b.name}_geom", cfg, ghost)


def _add_ball(spec: mujoco.MjSpec, cfg: SceneConfig, prefix: str = "", ghost: bool = False) -> None:
    ball = spec.worldbody.add_body(name=prefix + "ball", pos=(0, 0, BALL_RADIUS))
    ball.add_freejoint(name=prefix + "ball")
    ball.add_geom(
        name=prefix + "ball_geom",
        type=mujoco.mjtGeom.mjGEOM_SPHERE,
        size=(BALL_RADIUS, 0, 0),
        mass=cfg.ball_mass,
        condim=3,
        priority=1,
        gap=cfg.ball_touch_distance,  # listed out to this distance, forces only on touching (MuJoCo >= 4)
        solref=cfg.ball_solref,
        friction=(cfg.ball_friction, *BALL_SPIN_ROLL_FRICTION),
        material="ghost" if ghost else "ball",
        contype=0 if ghost else 1,
        conaffinity=0 if ghost else 1,
    )


def build_render_model(cfg: SceneConfig = SceneConfig(), ghost: bool = False) -> mujoco.MjModel:
    """The scene for drawing; with ``ghost``, a translucent second humanoid and ball (qpos 170:340)
    show a reference pose next to the simulated one. Never used for physics."""
    spec = build_spec(cfg)
    if ghost:
        spec.add_material(name="ghost", rgba=(0.3, 0.7, 1.0, 0.35))
        _add_humanoid(spec, cfg, prefix="ghost/", ghost=True)
        _add_ball(spec, cfg, prefix="ghost/", ghost=True)
    return spec.compile()


def _add_geom(body, g: Geom, name: str, cfg: SceneConfig, ghost: bool = False) -> None:
    collide = dict(contype=0, conaffinity=0) if ghost else dict(contype=1, conaffinity=1 if cfg.self_collision else 2)
    common = dict(
        name=name,
        density=g.density,
        condim=1,
        friction=(1.0, 0.05, 0.05),
        solimp=(0.9, 0.99, 0.003, 0.5, 2.0),
        solref=(0.015, 1.0),
        material="ghost" if ghost else "body",
        **collide,
    )
    if g.kind == "sphere":
        body.add_geom(type=mujoco.mjtGeom.mjGEOM_SPHERE, size=(g.size[0], 0, 0), pos=g.pos, **common)
    elif g.kind == "capsule":
        body.add_geom(type=mujoco.mjtGeom.mjGEOM_CAPSULE, size=(g.size[0], 0, 0), fromto=g.fromto, **common)
    elif g.kind == "box":
        body.add_geom(type=mujoco.mjtGeom.mjGEOM_BOX, size=g.size, pos=g.pos, **common)
    else:  # pragma: no cover - the table above is fixed
        raise ValueError(g.kind)


def _add_visuals(spec: mujoco.MjSpec) -> None:
    spec.add_texture(
        name="skybox",
        type=mujoco.mjtTexture.mjTEXTURE_SKYBOX,
        builtin=mujoco.mjtBuiltin.mjBUILTIN_GRADIENT,
        rgb1=(0.4, 0.5, 0.6),
        rgb2=(0, 0, 0),
        width=100,
        height=100,
    )
    spec.add_texture(
        name="grid",
        type=mujoco.mjtTexture.mjTEXTURE_2D,
        builtin=mujoco.mjtBuiltin.mjBUILTIN_CHECKER,
        rgb1=(0.35, 0.4, 0.45),
        rgb2=(0.55, 0.6, 0.65),
        width=300,
        height=300,
    )
    spec.add_material(name="floor", textures=["", "grid"], texrepeat=(20, 20), reflectance=0.1)
    spec.add_material(name="body", rgba=(0.8, 0.6, 0.4, 1.0))
    spec.add_material(name="ball", rgba=(0.9, 0.45, 0.1, 1.0))
    vis = spec.visual
    vis.headlight.ambient = (0.35, 0.35, 0.35)
    vis.headlight.diffuse = (0.6, 0.6, 0.6)
    vis.global_.offwidth = 1280
    vis.global_.offheight = 720


def build_model(cfg: SceneConfig = SceneConfig()) -> mujoco.MjModel:
    try:
        return build_spec(cfg).compile()
    except ValueError as e:  # a bad SceneConfig value, reported by the MuJoCo compiler
        raise SkillMimicError(f"scene config {cfg}: MuJoCo could not compile the scene: {e}") from None
