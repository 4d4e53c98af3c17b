"""The simulator interface: a batch of N worlds of the same scene, read and written as torch.

Every backend holds the same MuJoCo model (``skillmimic.humanoid``) and exposes:

- ``set_state(env_ids, state)``: fully reset those worlds (solver warm-start and all), write
  their state, and run a forward pass so every derived quantity is current;
- ``step(targets)``: PD targets for the 156 hinges, ``substeps`` physics steps, then one
  forward pass, so bodies, contacts and forces read afterwards describe the post-step state;
- reads: ``state()``, ``bodies()``, ``contacts(threshold)``, ``diverged()``.

Contacts are summarised per world from MuJoCo's contact list. A contact counts as a touch when
its normal force (the sum of its pyramid edges) exceeds a threshold or when it penetrates
deeper than a small depth: the second catches contacts that are geometrically closed but carry
no force at that instant (e.g. a hand moving away from the ball, or a posed reference frame).
With ``SceneConfig.ball_touch_distance`` a ball contact also counts while the gap is below it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import mujoco
import torch

from skillmimic.humanoid import NUM_BODIES, NUM_DOFS, SceneConfig, build_model
from skillmimic.sim.state import NQ, NV, SimState, qpos_qvel_to_state, state_to_qpos_qvel

BALL_BODY = NUM_BODIES + 1  # MuJoCo body id of the ball; 0 is the world (floor), 1..53 the humanoid
_SLOTS = NUM_BODIES + 2
MAX_SPEED = 1.0e4  # |qvel| above this (m/s or rad/s) counts as diverged, like a non-finite value


@dataclass
class BodyState:
    """World-frame pose and velocity of the 53 humanoid bodies (origin of each body frame)."""

    pos: torch.Tensor  # [N, 53, 3]
    rot: torch.Tensor  # [N, 53, 4] (w, x, y, z)
    vel: torch.Tensor  # [N, 53, 3]
    ang_vel: torch.Tensor  # [N, 53, 3]


@dataclass
class Contacts:
    """Per-world contact summary; forces are summed over the contacts of each pair."""

    ball_body: torch.Tensor  # [N, 53] bool: humanoid body b touches the ball
    body_any: torch.Tensor  # [N, 53] bool: body b touches anything (floor, ball or itself)
    ball_floor: torch.Tensor  # [N] bool
    body_force: torch.Tensor  # [N, 53] summed normal force on each body (N)
    ball_body_force: torch.Tensor  # [N, 53] summed normal force between each body and the ball (N)


@dataclass
class ContactList:
    """Flat contact arrays of all worlds; rows with ``valid`` False (unused pool rows) are ignored."""

    world: torch.Tensor  # [K] int
    body1: torch.Tensor  # [K] MuJoCo body ids
    body2: torch.Tensor  # [K]
    normal_force: torch.Tensor  # [K]
    dist: torch.Tensor  # [K] signed distance, negative when penetrating
    valid: torch.Tensor  # [K] bool


@dataclass(frozen=True)
class SimConfig:
    """Backend-independent simulator settings."""

    substeps: int = 2  # physics steps per control step (60 Hz control at 120 Hz physics)
    nconmax: int = 64  # contacts per world (MuJoCo Warp pools them: nconmax x worlds in all)
    njmax: int = 256  # constraint rows per world
    threads: int = 0  # MuJoCo C worker threads (0: one per CPU core)
    graph: bool = True  # MuJoCo Warp on CUDA: capture step/forward/reset in CUDA graphs


class Simulator(ABC):
    """N worlds of the scene; subclasses provide the physics and the raw arrays."""

    def __init__(self, num_worlds: int, device: str | torch.device, scene: SceneConfig | None, cfg: SimConfig | None):
        self.num_worlds = num_worlds
        self.device = torch.device(device)
        self.scene = scene = scene or SceneConfig()
        self.cfg = cfg = cfg or SimConfig()
        self.model: mujoco.MjModel = build_model(scene)
        self.substeps = cfg.substeps
        self.control_dt = cfg.substeps * self.model.opt.timestep
        self._geom_body = torch.as_tensor(self.model.geom_bodyid, dtype=torch.long, device=self.device)
        self._root_of = torch.as_tensor(self.model.body_rootid, dtype=torch.long, device=self.device)

    # --- physics -----------------------------------------------------------------------------
    @abstractmethod
    def step(self, targets: torch.Tensor) -> None:
        """Apply PD targets ``[N, 156]`` (radians), advance one control step, refresh derived data."""

    @abstractmethod
    def _reset_write_forward(self, env_ids: torch.Tensor, qpos: torch.Tensor, qvel: torch.Tensor) -> None:
        """Fully reset worlds ``env_ids``, write their qpos/qvel, then a forward pass."""

    def set_state(self, env_ids: torch.Tensor, state: SimState) -> None:
        """Reset worlds ``env_ids`` to ``state`` (batched like ``env_ids``); others are untouched."""
        env_ids = torch.as_tensor(env_ids, dtype=torch.long, device=self.device)
        if env_ids.numel() == 0:
            return
        qpos, qvel = state_to_qpos_qvel(state.to(self.device))
        if qpos.shape != (env_ids.numel(), NQ) or qvel.shape != (env_ids.numel(), NV):
            raise ValueError(f"set_state: state has {qpos.shape[0]} rows for {env_ids.numel()} worlds")
        self._reset_write_forward(env_ids, qpos, qvel)

    # --- raw arrays (torch, [N, ...]) supplied by the backend -----------------------------
    _qpos: torch.Tensor  # [N, 170], set by the backend
    _qvel: torch.Tensor  # [N, 168]

    @property
    def qpos(self) -> torch.Tensor:
        return self._qpos

    @property
    def qvel(self) -> torch.Tensor:
        return self._qvel

    @abstractmethod
    def _kinematics(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``xpos [N, nbody, 3]``, ``xquat [N, nbody, 4]``, ``cvel [N, nbody, 6]``, ``subtree_com``."""

    @abstractmethod
    def _contact_list(self) -> ContactList: ...

    @abstractmethod
    def _unstable(self) -> torch.Tensor:
        """[N] bool: backend-specific divergence (bad accelerations, buffer overflow)."""

    # --- reads ----------------------------------------------------------------------------
    def state(self) -> SimState:
        return qpos_qvel_to_state(self.qpos, self.qvel)

    def bodies(self) -> BodyState:
        xpos, xquat, cvel, com = self._kinematics()
        b = slice(1, NUM_BODIES + 1)
        return BodyState(pos=xpos[:, b], rot=xquat[:, b], **_point_velocity(xpos, cvel, com, self._root_of, b))

    def contacts(self, threshold: float = 0.1, depth: float = 0.001) -> Contacts:
        """Touches: normal force above ``threshold`` (N) or penetration deeper than ``depth`` (m); a
        ball contact also within ``scene.ball_touch_distance`` of touching."""
        return summarize_contacts(
            self._contact_list(), self.num_worlds, threshold, depth, self.scene.ball_touch_distance
        )

    def diverged(self) -> torch.Tensor:
        """[N] bool: non-finite or runaway state, or a backend failure; such worlds must be reset."""
        bad = ~torch.isfinite(self.qpos).all(dim=1) | ~torch.isfinite(self.qvel).all(dim=1)
        return bad | (self.qvel.abs() > MAX_SPEED).any(dim=1) | self._unstable()

    def overflow_report(self) -> str | None:
        """A one-line hint when a fixed-size buffer overflowed (MuJoCo Warp), else None."""
        return None

    def _check_targets(self, targets: torch.Tensor) -> None:
        if targets.shape != (self.num_worlds, NUM_DOFS):
            raise ValueError(
                f"step: expected PD targets of shape [{self.num_worlds}, {NUM_DOFS}], got {list(targets.shape)}"
            )


def _point_velocity(xpos, cvel, com, root_of, b) -> dict[str, torch.Tensor]:
    """World linear/angular velocity at each body origin from MuJoCo's com-based ``cvel``."""
    ang = cvel[:, b, 0:3]
    lin = cvel[:, b, 3:6] + torch.cross(ang, xpos[:, b] - com[:, root_of[b]], dim=-1)
    return dict(vel=lin, ang_vel=ang)


def normal_forces(efc_force: torch.Tensor, world: torch.Tensor, adr: torch.Tensor, dim: torch.Tensor) -> torch.Tensor:
    """Normal force of each contact: the sum of its pyramid edge forces (one row if condim 1)."""
    rows = torch.where(dim == 1, 1, 2 * (dim - 1))
    k = torch.arange(4, device=efc_force.device)
    idx = (adr.unsqueeze(1) + k).clamp(0, efc_force.shape[1] - 1)
    take = (k < rows.unsqueeze(1)) & (adr.unsqueeze(1) >= 0)
    f = efc_force[world.clamp(0, efc_force.shape[0] - 1).unsqueeze(1), idx]
    return (f * take).sum(dim=1)


def summarize_contacts(
    c: ContactList, num_worlds: int, threshold: float, depth: float, touch_distance: float = 0.0
) -> Contacts:
    w = c.world.clamp(0, num_worlds - 1)
    b1 = c.body1.clamp(0, _SLOTS - 1)
    b2 = c.body2.clamp(0, _SLOTS - 1)
    zero = torch.zeros_like(c.normal_force)
    force = torch.where(c.valid, c.normal_force, zero)
    with_ball = (b1 == BALL_BODY) | (b2 == BALL_BODY)
    near_ball = with_ball & (c.dist < touch_distance) if touch_distance > 0 else torch.zeros_like(with_ball)
    touch = (c.valid & ((c.normal_force > threshold) | (c.dist < -depth) | near_ball)).to(force.dtype)
    other = torch.where(b1 == BALL_BODY, b2, b1)
    not_self = b1 != b2  # a self-contact adds once to its body, not twice
    ball_force, ball_touch = torch.where(with_ball, force, zero), torch.where(with_ball, touch, zero)
    # rows: force and touches per body (either side of a contact), then per body against the ball
    acc = torch.zeros(4, num_worlds * _SLOTS, dtype=force.dtype, device=force.device)
    for row, slot, value in (
        (0, b1, force),
        (1, b1, touch),
        (0, b2, torch.where(not_self, force, zero)),
        (1, b2, torch.where(not_self, touch, zero)),
        (2, other, ball_force),
        (3, other, ball_touch),
    ):
        acc[row].index_add_(0, w * _SLOTS + slot, value)
    body_f, body_t, ball_f, ball_t = acc.view(4, num_worlds, _SLOTS).unbind(0)
    h = slice(1, NUM_BODIES + 1)
    return Contacts(
        ball_body=ball_t[:, h] > 0,
        body_any=body_t[:, h] > 0,
        ball_floor=ball_t[:, 0] > 0,
        body_force=body_f[:, h],
        ball_body_force=ball_f[:, h],
    )
