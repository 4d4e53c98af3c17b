"""The CUDA path's safety nets, checked on the CPU (the GPU script exercises them on hardware):
capture without the garbage collector, eager fallback with a warning when capture fails, bench
refusing an eager number in place of a graph one, and the model's collision choice."""

import gc
from types import SimpleNamespace

import mujoco
import pytest
import torch

from skillmimic.bench import _refuse_silent_eager
from skillmimic.errors import SkillMimicError
from skillmimic.humanoid import build_model
from skillmimic.sim import mjwarp
from skillmimic.sim.factory import make_simulator


def test_no_gc_pauses_and_restores_the_collector():
    assert gc.isenabled()
    with mjwarp.no_gc():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), mjwarp.no_gc():
        raise RuntimeError("capture failed")
    assert gc.isenabled()
    gc.disable()
    try:
        with mjwarp.no_gc():
            pass
        assert not gc.isenabled()  # a collector that was off stays off
    finally:
        gc.enable()


@pytest.mark.slow
def test_failed_capture_falls_back_to_eager_with_a_warning(caplog):
    sim = make_simulator("mjwarp", 2, "cpu")
    assert sim.use_graphs is False and sim._torch_stream is None  # no capture on the CPU
    calls = []

    def physics():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("operation not permitted when stream is capturing")

    sim.use_graphs = True  # pretend: as on CUDA
    sim._launch("step", physics)
    (warning,) = [r for r in caplog.records if r.levelname == "WARNING"]
    assert "capture of 'step' failed" in warning.getMessage() and "sim.graph=false" in warning.getMessage()
    assert sim.use_graphs is False and len(calls) == 2  # the work still ran, eagerly
    sim._launch("step", physics)
    assert len(calls) == 3


def test_bench_refuses_an_eager_number_for_a_graph_one():
    cuda_eager = SimpleNamespace(device=torch.device("cuda"), use_graphs=False)
    with pytest.raises(SkillMimicError, match="--no-graph"):
        _refuse_silent_eager(cuda_eager, graph=True)
    _refuse_silent_eager(cuda_eager, graph=False)  # asked for eager: fine
    _refuse_silent_eager(SimpleNamespace(device=torch.device("cpu"), use_graphs=False), graph=True)


def test_box_feet_use_the_primitive_collider():
    """Native CCD is off, so MuJoCo Warp collides the box feet with its primitive box-box routine
    (no convex kernels to compile on CUDA); the Warp-vs-C parity tests in test_sim.py run with it."""
    from mujoco_warp._src.collision_driver import MJ_COLLISION_TABLE, CollisionType
    from mujoco_warp._src.types import GeomType

    m = build_model()
    assert m.opt.disableflags & mujoco.mjtDisableBit.mjDSBL_NATIVECCD
    kinds = {int(t) for t in m.geom_type}
    assert kinds == {
        int(mujoco.mjtGeom.mjGEOM_PLANE),
        int(mujoco.mjtGeom.mjGEOM_SPHERE),
        int(mujoco.mjtGeom.mjGEOM_CAPSULE),
        int(mujoco.mjtGeom.mjGEOM_BOX),
    }
    # every pair of our geom kinds but box-box is primitive already; box-box becomes so with the flag
    convex = {k for k, v in MJ_COLLISION_TABLE.items() if v == CollisionType.CONVEX and {int(k[0]), int(k[1])} <= kinds}
    assert convex == {(GeomType.BOX, GeomType.BOX)}
