"""MuJoCo C backend: one ``MjData`` per world, stepped by a thread pool (MuJoCo releases the GIL).

For CPU training, the viewer and as the reference the MuJoCo Warp backend is tested against.
Each worker copies its worlds' arrays into shared float64 buffers after stepping; they are
exposed as float32 torch tensors.

Every path that writes a world's state ends with ``mj_forward`` (a step ends with one so that
what is read describes the post-step state; a reset runs one after writing the state). The
position and velocity stages of that forward pass are exactly what the next control step's
first ``mj_step`` would compute again before applying the new controls, so the first substep
runs only ``mj_step2`` (actuation, acceleration, constraint solve, integration): the same
result bit for bit, one position/velocity pass (collision detection included) fewer per step.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import mujoco
import numpy as np
import torch

from skillmimic.humanoid import SceneConfig
from skillmimic.sim.base import ContactList, SimConfig, Simulator, normal_forces
from skillmimic.sim.state import standing_state
from skillmimic.threads import configure_threads

_BAD_STATE = (mujoco.mjtWarning.mjWARN_BADQPOS, mujoco.mjtWarning.mjWARN_BADQVEL, mujoco.mjtWarning.mjWARN_BADQACC)


def _bad_state_warnings(d: mujoco.MjData) -> int:
    return sum(d.warning[w].number for w in _BAD_STATE)


class MujocoSimulator(Simulator):
    def __init__(self, num_worlds: int, scene: SceneConfig | None = None, cfg: SimConfig | None = None):
        super().__init__(num_worlds, "cpu", scene, cfg)
        m = self.model
        self.datas = [mujoco.MjData(m) for _ in range(num_worlds)]
        threads = configure_threads("cpu", self.cfg.threads)  # and torch's intra-op pool (skillmimic.threads)
        self._chunks = [c for c in np.array_split(np.arange(num_worlds), min(threads, num_worlds)) if len(c)]
        # the calling thread steps the first chunk itself: one thread fewer to wake and schedule
        self._pool = ThreadPoolExecutor(len(self._chunks) - 1) if len(self._chunks) > 1 else None
        self._bad = np.zeros(num_worlds, dtype=bool)
        n, nb = num_worlds, m.nbody
        self._buf = {
            "qpos": np.zeros((n, m.nq)),
            "qvel": np.zeros((n, m.nv)),
            "xpos": np.zeros((n, nb, 3)),
            "xquat": np.zeros((n, nb, 4)),
            "cvel": np.zeros((n, nb, 6)),
            "subtree_com": np.zeros((n, nb, 3)),
        }
        self._world_contacts: list[np.ndarray] = [np.zeros((0, 6))] * n
        self._world_efc: list[np.ndarray] = [np.zeros(0)] * n
        self.set_state(torch.arange(num_worlds), standing_state(num_worlds))

    # --- physics -------------------------------------------------------------------------
    def _run(self, fn) -> None:
        others = [self._pool.submit(fn, c) for c in self._chunks[1:]] if self._pool is not None else []
        try:
            fn(self._chunks[0])
        finally:
            for f in others:
                f.result()
        self._publish()

    def step(self, targets: torch.Tensor) -> None:
        self._check_targets(targets)
        ctrl = targets.detach().to("cpu", torch.float64).numpy()
        m, n = self.model, self.substeps

        def work(ids):
            for i in ids:
                d = self.datas[i]
                d.ctrl[:] = ctrl[i]
                before = _bad_state_warnings(d)
                # position/velocity stages are current from the last mj_forward (see module doc)
                mujoco.mj_step2(m, d)
                for _ in range(n - 1):
                    mujoco.mj_step(m, d)
                mujoco.mj_forward(m, d)
                # MuJoCo resets a world with a bad position, velocity or acceleration itself and
                # counts a warning; the caller must still know, to reset it to a proper state.
                self._bad[i] = _bad_state_warnings(d) != before
                self._copy_out(i)

        self._run(work)

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
            self._copy_out(i)
        self._publish()

    def _copy_out(self, i: int) -> None:
        """Copy world ``i``'s arrays into the batch buffers and summarise its contacts."""
        d = self.datas[i]
        for name, buf in self._buf.items():
            buf[i] = getattr(d, name)
        n, con, body = d.ncon, d.contact, self.model.geom_bodyid
        self._world_efc[i] = d.efc_force[: d.nefc].copy()
        self._world_contacts[i] = np.stack(
            (np.full(n, i), body[con.geom1[:n]], body[con.geom2[:n]], con.efc_address[:n], con.dim[:n], con.dist[:n]),
            axis=1,
        )

    def _publish(self) -> None:
        """Expose the buffers as float32 torch tensors (read by every accessor until the next step)."""
        t = {k: torch.from_numpy(v).float() for k, v in self._buf.items()}
        self._qpos, self._qvel = t["qpos"], t["qvel"]
        self._kin = (t["xpos"], t["xquat"], t["cvel"], t["subtree_com"])
        c = torch.from_numpy(np.concatenate(self._world_contacts))
        efc = np.zeros((self.num_worlds, max(1, max(len(f) for f in self._world_efc))))
        for i, f in enumerate(self._world_efc):
            efc[i, : len(f)] = f
        world = c[:, 0].long()
        self._contacts = ContactList(
            world=world,
            body1=c[:, 1].long(),
            body2=c[:, 2].long(),
            normal_force=normal_forces(torch.from_numpy(efc).float(), world, c[:, 3].long(), c[:, 4].long()),
            dist=c[:, 5].float(),
            valid=torch.ones(len(c), dtype=torch.bool),
        )

    # --- reads ---------------------------------------------------------------------------
    def _kinematics(self):
        return self._kin

    def _contact_list(self) -> ContactList:
        return self._contacts

    def _unstable(self) -> torch.Tensor:
        return torch.from_numpy(self._bad.copy())

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
