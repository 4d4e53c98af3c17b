"""MuJoCo C backend: one ``MjData`` per world, stepped by a thread pool (MuJoCo releases the GIL).

For CPU training, the viewer and as the reference the MuJoCo Warp backend is tested against.
State is copied into float64 numpy buffers after every step and exposed as float32 torch.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import mujoco
import numpy as np
import torch

from skillmimic.humanoid import SceneConfig
from skillmimic.sim.base import ContactList, SimConfig, Simulator
from skillmimic.sim.state import standing_state


_BAD_STATE = (mujoco.mjtWarning.mjWARN_BADQPOS, mujoco.mjtWarning.mjWARN_BADQVEL, mujoco.mjtWarning.mjWARN_BADQACC)


def _bad_state_warnings(d: mujoco.MjData) -> int:
    return sum(d.warning[w].number for w in _BAD_STATE)


class MujocoSimulator(Simulator):
    def __init__(self, num_worlds: int, scene: SceneConfig = SceneConfig(), cfg: SimConfig = SimConfig()):
        super().__init__(num_worlds, "cpu", scene, cfg)
        m = self.model
        self.datas = [mujoco.MjData(m) for _ in range(num_worlds)]
        threads = cfg.threads or os.cpu_count() or 1
        self._chunks = [c for c in np.array_split(np.arange(num_worlds), min(threads, num_worlds)) if len(c)]
        self._pool = ThreadPoolExecutor(len(self._chunks)) if len(self._chunks) > 1 else None
        self._bad = np.zeros(num_worlds, dtype=bool)
        self.set_state(torch.arange(num_worlds), standing_state(num_worlds))

    # --- physics -------------------------------------------------------------------------
    def _run(self, fn) -> None:
        if self._pool is None:
            fn(self._chunks[0])
        else:
            list(self._pool.map(fn, self._chunks))

    def step(self, targets: torch.Tensor) -> None:
        self._check_targets(targets)
        ctrl = targets.detach().to("cpu", torch.float64).numpy()
        m, n = self.model, self.substeps

        def work(ids):
            for i in ids:
                d = self.datas[i]
                d.ctrl[:] = ctrl[i]
                before = _bad_state_warnings(d)
                for _ in range(n):
                    mujoco.mj_step(m, d)
                mujoco.mj_forward(m, d)
                # MuJoCo resets a world with a bad position, velocity or acceleration itself and
                # counts a warning; the caller must still know, to reset it to a proper state.
                self._bad[i] = _bad_state_warnings(d) != before

        self._run(work)
        self._gather()

    def _reset_write_forward(self, env_ids, qpos, qvel) -> None:
        qp = qpos.detach().to("cpu", torch.float64).numpy()
        qv = qvel.detach().to("cpu", torch.float64).numpy()
        for k, i in enumerate(env_ids.tolist()):
            d = self.datas[i]
            mujoco.mj_resetData(self.model, d)
            d.qpos[:] = qp[k]
            d.qvel[:] = qv[k]
            mujoco.mj_forward(self.model, d)
            self._bad[i] = False
        self._gather()

    def _gather(self) -> None:
        """Copy every world's arrays into batched buffers (the torch views read from these)."""
        ds = self.datas
        f32 = torch.float32
        self._qpos = torch.from_numpy(np.stack([d.qpos for d in ds])).to(f32)
        self._qvel = torch.from_numpy(np.stack([d.qvel for d in ds])).to(f32)
        self._xpos = torch.from_numpy(np.stack([d.xpos for d in ds])).to(f32)
        self._xquat = torch.from_numpy(np.stack([d.xquat for d in ds])).to(f32)
        self._cvel = torch.from_numpy(np.stack([d.cvel for d in ds])).to(f32)
        self._com = torch.from_numpy(np.stack([d.subtree_com for d in ds])).to(f32)
        world, g1, g2, force = [], [], [], []
        for w, d in enumerate(ds):
            n = d.ncon
            if n == 0:
                continue
            con = d.contact
            adr, dim = con.efc_address[:n], con.dim[:n]
            rows = np.where(dim == 1, 1, 2 * (dim - 1))  # pyramid edges of each contact
            k = np.arange(4)
            edges = d.efc_force[np.clip(adr[:, None] + k, 0, max(d.nefc - 1, 0))] if d.nefc else np.zeros((n, 4))
            force.append((edges * ((k < rows[:, None]) & (adr[:, None] >= 0))).sum(axis=1))
            world.append(np.full(n, w))
            g1.append(con.geom1[:n])
            g2.append(con.geom2[:n])
        cat = (lambda xs, dt: torch.from_numpy(np.concatenate(xs)).to(dt)) if world else \
              (lambda xs, dt: torch.zeros(0, dtype=dt))
        geom_body = self.model.geom_bodyid
        self._contacts = ContactList(
            world=cat(world, torch.long),
            body1=torch.from_numpy(geom_body[np.concatenate(g1)]).long() if world else torch.zeros(0, dtype=torch.long),
            body2=torch.from_numpy(geom_body[np.concatenate(g2)]).long() if world else torch.zeros(0, dtype=torch.long),
            normal_force=cat(force, f32),
            valid=torch.ones(sum(len(x) for x in world), dtype=torch.bool),
        )

    # --- reads ---------------------------------------------------------------------------
    @property
    def qpos(self) -> torch.Tensor:
        return self._qpos

    @property
    def qvel(self) -> torch.Tensor:
        return self._qvel

    def _kinematics(self):
        return self._xpos, self._xquat, self._cvel, self._com

    def _contact_list(self) -> ContactList:
        return self._contacts

    def _unstable(self) -> torch.Tensor:
        return torch.from_numpy(self._bad.copy())

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
