"""Pick a simulator backend by name."""

from __future__ import annotations

from pathlib import Path

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
    check_memory(num_worlds, device)
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


# Resident memory a world takes once built, measured with 128 worlds on the CPU: MuJoCo C 1.4 MB,
# MuJoCo Warp 2.5 MB. The check uses less, so it only refuses what cannot fit.
BYTES_PER_WORLD = 2**20


def available_memory(device: str | torch.device) -> int:
    """Bytes free for new worlds on ``device``: free GPU memory, else the system's MemAvailable."""
    if str(device).startswith("cuda"):
        return int(torch.cuda.mem_get_info(torch.device(device))[0])
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 2**62  # unknown: do not refuse


def check_memory(num_worlds: int, device: str | torch.device) -> None:
    """Refuse, before allocating, a world count the device cannot hold (one line, no swap storm)."""
    need, have = num_worlds * BYTES_PER_WORLD, available_memory(device)
    if need > have:
        raise SkillMimicError(
            f"{num_worlds:,} worlds need at least {need / 2**30:,.1f} GiB on {device}; "
            f"{have / 2**30:,.1f} GiB are available (lower num_envs)"
        )
