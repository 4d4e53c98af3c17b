"""Pick a simulator backend by name."""

from __future__ import annotations

import torch

from skillmimic.errors import SkillMimicError
from skillmimic.humanoid import SceneConfig
from skillmimic.sim.base import SimConfig, Simulator

BACKENDS = ("mjwarp", "mujoco")


def make_simulator(
    backend: str,
    num_worlds: int,
    device: str | torch.device = "cpu",
    scene: SceneConfig | None = None,
    cfg: SimConfig | None = None,
) -> Simulator:
    if num_worlds < 1:
        raise SkillMimicError(f"number of worlds must be at least 1, got {num_worlds}")
    if backend == "mjwarp":
        from skillmimic.sim.mjwarp import WarpSimulator

        return WarpSimulator(num_worlds, device, scene, cfg)
    if backend == "mujoco":
        if str(device) != "cpu":
            raise SkillMimicError(
                f"backend 'mujoco' (MuJoCo C) runs on the CPU only, not device {device!r}; "
                "use --backend mjwarp for CUDA"
            )
        from skillmimic.sim.mujoco_c import MujocoSimulator

        return MujocoSimulator(num_worlds, scene, cfg)
    raise SkillMimicError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
