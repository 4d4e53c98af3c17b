"""MuJoCo Warp backend: all worlds in one batched ``mujoco_warp.Data``, on CUDA or the CPU.

Warp arrays are exposed to torch without copies (``wp.to_torch``) and written in place only,
because captured CUDA graphs hold array addresses. On CUDA the control step (substeps plus a
forward pass), the forward pass and the masked reset are each captured once in a CUDA graph
and replayed.

CUDA details that decide whether this works at all:
- Capture happens on a side stream of our own (torch's current stream outside a
  ``torch.cuda.stream`` block is the legacy default stream, where CUDA refuses to capture);
  every launch is ordered after torch's pending work and torch's later work after it.
- Python's garbage collector is paused during a capture: a collection that frees a CUDA
  tensor mid-capture invalidates the capture (CUDA error 901).
- MuJoCo Warp's solver exits early through conditional graph nodes (driver 12.4+); without
  them it runs its full iteration count, which we say once.
- A failed capture falls back to eager launches with a warning (``sim.graph=false`` skips the
  attempt). Eager is slower (H200: 1.9x at 1,024 worlds, 1.1x at 8,192, where the kernels
  themselves dominate; more on small batches), so the path taken is always printed.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import time

import warp as wp

# No per-module load lines (compile errors still show); SKILLMIMIC_WARP_VERBOSE=1 prints each
# module's load/compile time, e.g. on a first GPU run.
_VERBOSE = os.environ.get("SKILLMIMIC_WARP_VERBOSE", "") not in ("", "0")
wp.config.log_level = wp.LOG_INFO if _VERBOSE else wp.LOG_WARNING

import mujoco  # noqa: E402
import mujoco_warp as mjw  # noqa: E402
import torch  # noqa: E402

from skillmimic.errors import SkillMimicError  # noqa: E402
from skillmimic.humanoid import SceneConfig  # noqa: E402
from skillmimic.sim.base import ContactList, SimConfig, Simulator, normal_forces  # noqa: E402
from skillmimic.sim.state import standing_state  # noqa: E402

log = logging.getLogger(__name__)

# Buffer overflows make MuJoCo Warp drop contacts or constraints; a world with one is treated as
# diverged. The solver's iteration-limit bits are not failures and are left out.
_OVERFLOW = int(mjw.OverflowType.ALL & ~(mjw.OverflowType.ITERATIONS | mjw.OverflowType.LS_ITERATIONS))


class WarpSimulator(Simulator):
    def __init__(
        self,
        num_worlds: int,
        device: str | torch.device = "cuda",
        scene: SceneConfig | None = None,
        cfg: SimConfig | None = None,
    ):
        super().__init__(num_worlds, device, scene, cfg)
        cfg = self.cfg
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise SkillMimicError("device 'cuda' requested but CUDA is not available; use --device cpu")
        wp.init()
        cuda = self.device.type == "cuda"
        self._wp_device = wp.get_device(f"cuda:{self.device.index or 0}" if cuda else "cpu")
        # Warp works on a side stream of ours: capture is impossible on the legacy default stream.
        self._torch_stream = torch.cuda.Stream(self.device) if cuda else None
        self._stream = wp.stream_from_torch(self._torch_stream) if cuda else None
        mjd = mujoco.MjData(self.model)  # no contacts yet: every world is set below
        with wp.ScopedDevice(self._wp_device):
            self.m = mjw.put_model(self.model)
            self.m.opt.warn_overflow = 0  # overflows are detected per world and reported by the caller
            if cuda and not wp.is_conditional_graph_supported():
                self.m.opt.graph_conditional = False
                log.warning(
                    "MuJoCo Warp: this CUDA driver/toolkit lacks conditional graph nodes (needs 12.4+): "
                    f"the solver runs all {self.model.opt.iterations} iterations instead of exiting early"
                )
            self.d = mjw.put_data(self.model, mjd, nworld=num_worlds, nconmax=cfg.nconmax, njmax=cfg.njmax)
            self._reset_mask = wp.zeros(num_worlds, dtype=bool)
        wp.synchronize_device(self._wp_device)  # uploads ran on Warp's own stream; ours starts after them
        d = self.d
        t = wp.to_torch
        self._qpos, self._qvel, self._ctrl, self._qacc = t(d.qpos), t(d.qvel), t(d.ctrl), t(d.qacc)
        self._xpos, self._xquat, self._cvel, self._com = t(d.xpos), t(d.xquat), t(d.cvel), t(d.subtree_com)
        self._overflow, self._mask = t(d.overflow), t(self._reset_mask)
        con = d.contact
        self._con_geom, self._con_world, self._con_dim = t(con.geom), t(con.worldid), t(con.dim)
        self._con_adr, self._con_type, self._nacon = t(con.efc_address), t(con.type), t(d.nacon)
        self._con_dist = t(con.dist)
        self._efc_force = t(d.efc.force)
        self._nefc, self._ncollision = t(d.nefc), t(d.ncollision)
        self._con_row = torch.arange(self._con_geom.shape[0], device=self.device)
        self.use_graphs = cuda and cfg.graph
        if self.use_graphs and not wp.is_mempool_enabled(self._wp_device):
            self.use_graphs = False
            log.warning(f"MuJoCo Warp: no CUDA memory pool on {self._wp_device}, so no graph capture; running eager")
        self._graphs: dict[str, wp.Graph] = {}
        if cuda:
            # Load every kernel module once outside capture (reset_data builds its kernels per call,
            # and a module cannot load during capture); on a first run this compiles them.
            t0 = time.perf_counter()
            self._mask.fill_(True)
            with self._on_warp_stream():
                self._physics_reset()
                self._physics_step()
                self._physics_forward()
            torch.cuda.synchronize(self.device)
            log.warning(
                f"MuJoCo Warp on {self._wp_device} ({torch.cuda.get_device_name(self.device)}): kernels ready in "
                f"{time.perf_counter() - t0:.1f} s; {num_worlds} worlds, "
                f"{'CUDA graphs' if self.use_graphs else 'eager launches (slow; sim.graph=false or no mempool)'}"
            )
        self.set_state(torch.arange(num_worlds), standing_state(num_worlds))

    # --- physics -------------------------------------------------------------------------
    def _physics_step(self) -> None:
        for _ in range(self.substeps):
            mjw.step(self.m, self.d)
        mjw.forward(self.m, self.d)

    def _physics_forward(self) -> None:
        mjw.forward(self.m, self.d)

    def _physics_reset(self) -> None:
        mjw.reset_data(self.m, self.d, reset=self._reset_mask)

    @contextlib.contextmanager
    def _on_warp_stream(self):
        """Run Warp work on our stream, after torch's pending work; torch's later work waits for it."""
        if self._torch_stream is None:
            with wp.ScopedDevice(self._wp_device):
                yield
            return
        torch_stream = torch.cuda.current_stream(self.device)
        self._torch_stream.wait_stream(torch_stream)
        with wp.ScopedDevice(self._wp_device), wp.ScopedStream(self._stream, sync_enter=False, sync_exit=False):
            yield
        torch_stream.wait_stream(self._torch_stream)

    def _launch(self, name: str, fn) -> None:
        """Run ``fn``; on CUDA capture it the first time and replay the graph afterwards."""
        with self._on_warp_stream():
            if not self.use_graphs:
                fn()
                return
            graph = self._graphs.get(name)
            if graph is None:
                graph = self._capture(name, fn)
                if graph is None:
                    return
            wp.capture_launch(graph, stream=self._stream)

    def _capture(self, name: str, fn) -> wp.Graph | None:
        """Capture ``fn`` into a CUDA graph; on failure switch to eager launches (``fn`` then runs once)."""
        try:
            with no_gc(), wp.ScopedCapture(device=self._wp_device, stream=self._stream) as capture:
                fn()
        except Exception as e:  # driver or capture error: slow but correct beats dead
            self.use_graphs = False
            self._graphs.clear()
            log.warning(
                f"warning: CUDA graph capture of '{name}' failed ({str(e).strip().splitlines()[0][:200]}); "
                "running eager launches (slower, most on small batches). Set sim.graph=false to skip the attempt."
            )
            fn()
            return None
        self._graphs[name] = capture.graph
        return capture.graph

    def step(self, targets: torch.Tensor) -> None:
        self._check_targets(targets)
        self._ctrl.copy_(targets)
        self._launch("step", self._physics_step)

    def forward(self) -> None:
        self._launch("forward", self._physics_forward)

    def _reset_write_forward(self, env_ids, qpos, qvel) -> None:
        self._mask.zero_()
        self._mask[env_ids] = True
        self._launch("reset", self._physics_reset)
        self._qpos[env_ids] = qpos
        self._qvel[env_ids] = qvel
        self.forward()

    # --- reads ---------------------------------------------------------------------------
    def _kinematics(self):
        return self._xpos, self._xquat, self._cvel, self._com

    def _contact_list(self) -> ContactList:
        geom = self._con_geom.long().clamp_min(0)
        world = self._con_world.long()
        valid = (self._con_row < self._nacon[0]) & ((self._con_type & 1) != 0)  # ContactType.CONSTRAINT
        return ContactList(
            world=world,
            body1=self._geom_body[geom[:, 0]],
            body2=self._geom_body[geom[:, 1]],
            normal_force=normal_forces(self._efc_force, world, self._con_adr[:, 0].long(), self._con_dim.long()),
            dist=self._con_dist,
            valid=valid,
        )

    def _overflow_bits(self) -> torch.Tensor:
        """Per-world overflow bits, including pool overflows a forward pass alone does not flag.

        Contacts share one pool of ``nconmax * worlds`` rows; when it overflows, whose contacts
        were dropped is unknown, so every world is marked.
        """
        d = self.d
        pool = (self._nacon[0] > d.naconmax) | (self._ncollision[0] > d.naconmax)
        bits = (self._overflow & _OVERFLOW) | torch.where(pool, int(mjw.OverflowType.NARROWPHASE), 0)
        return bits | torch.where(self._nefc > d.njmax, int(mjw.OverflowType.NEFC), 0)

    def _unstable(self) -> torch.Tensor:
        return (self._overflow_bits() != 0) | ~torch.isfinite(self._qacc).all(dim=1)

    def overflow_report(self) -> str | None:
        """What to raise when a contact or constraint buffer overflowed in some world, else None."""
        bits = self._overflow_bits()
        if not bool(bits.any()):
            return None
        worlds = int((bits != 0).sum())
        contact = int(mjw.OverflowType.NARROWPHASE | mjw.OverflowType.BROADPHASE | mjw.OverflowType.CCD)
        raise_ = []
        if bool((bits & contact).any()):
            raise_.append(f"sim.nconmax (now {self.cfg.nconmax})")
        if bool((bits & int(mjw.OverflowType.NEFC | mjw.OverflowType.NJMAX_NNZ)).any()):
            raise_.append(f"sim.njmax (now {self.cfg.njmax})")
        what = " and ".join(raise_) or f"the MuJoCo Warp buffer of overflow bits {int(bits.max())}"
        return f"MuJoCo Warp buffers overflowed in {worlds} of {self.num_worlds} worlds: raise {what}"


@contextlib.contextmanager
def no_gc():
    """Pause Python's garbage collector: a collection during CUDA graph capture can free a CUDA
    allocation mid-capture and invalidate it (mjlab hit CUDA error 901 this way)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
