"""CPU thread budget of a training process: torch's intra-op pool and MuJoCo C's worker pool.

Within one control step the two never run at once (physics, then torch on its results), so
they do not compete with each other for cores. What hurts is torch's OpenMP pool spinning: by
default (libgomp) each thread busy-waits at the end of a parallel region. When another process
holds one of the two cores of a small machine, each of the thousands of small ops of a PPO step
then waits for a descheduled thread while its partner burns the other core. Measured on the
2-core development machine next to other training runs: the main job fell from ~650 to ~30
samples/s with two spinning torch threads, a PPO minibatch step from 21 ms (one thread) to
430 ms. With passive waiting (``skillmimic/process.py`` sets ``OMP_WAIT_POLICY=PASSIVE`` before
torch is imported) two threads cost the same as one under contention and are faster when the
machine is idle. MuJoCo C's workers are plain Python threads that release the GIL: with a core
taken they merely share the other one.

Rule (``device`` cpu): MuJoCo C gets ``sim_threads`` workers (0: one per core). torch gets one
intra-op thread per core when OpenMP waits passively, one thread when it spins (torch imported
before ``configure_process``, or a spin policy chosen) on machines of up to four cores, and half the cores
on larger ones (not measured yet). ``SKILLMIMIC_TORCH_THREADS`` or ``OMP_NUM_THREADS`` wins.
On CUDA torch's CPU pool only runs bookkeeping; it is left alone.

Call it once per process before the heavy work (``skillmimic train`` after resolving the device;
``MujocoSimulator`` calls it too). rl-games' ``Runner`` sets torch's thread count again when it
loads its params (``min(4, cores)``) unless they contain ``torch_threads: 0``.
"""

from __future__ import annotations

import os

import torch

TORCH_THREADS_ENV = "SKILLMIMIC_TORCH_THREADS"
_configured: tuple[str, int, int] | None = None


def _waits_passively(env) -> bool:
    if "GOMP_SPINCOUNT" in env:
        return env["GOMP_SPINCOUNT"].strip() == "0"
    return env.get("OMP_WAIT_POLICY", "").strip().upper() == "PASSIVE"


# libgomp read the environment when torch loaded, just before this module: what it holds now is it
OPENMP_WAITS_PASSIVELY = _waits_passively(os.environ)


def cpu_cores() -> int:
    """Cores this process may run on: the affinity mask (e.g. a container's CPU set), shared with the
    other ranks ``torchrun`` started on this machine (``LOCAL_WORLD_SIZE``)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, cores // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1"))))


def default_torch_threads(cores: int, passive: bool | None = None) -> int:
    """Intra-op threads for CPU training on ``cores`` cores (see the module docstring);
    ``passive``: whether torch's OpenMP threads wait passively (default: as this process runs)."""
    if passive is None:
        passive = OPENMP_WAITS_PASSIVELY
    if cores <= 4:
        return cores if passive else 1
    return cores // 2


def configure_threads(device: str | torch.device = "cpu", sim_threads: int = 0) -> int:
    """Size torch's intra-op pool for ``device`` and return the MuJoCo C worker count to use.

    ``sim_threads`` is the ``sim.threads`` setting (0: one worker per core). Idempotent; an
    environment override (``SKILLMIMIC_TORCH_THREADS`` or ``OMP_NUM_THREADS``) is respected.
    """
    global _configured
    cores = cpu_cores()
    workers = sim_threads if sim_threads > 0 else cores
    if not str(device).startswith("cpu"):
        return workers
    explicit = os.environ.get(TORCH_THREADS_ENV) or os.environ.get("OMP_NUM_THREADS")
    try:
        threads = int(explicit) if explicit else default_torch_threads(cores)
    except ValueError:
        threads = default_torch_threads(cores)
    threads = max(1, threads)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    _configured = (str(device), threads, workers)
    return workers


def configured() -> tuple[str, int, int] | None:
    """``(device, torch threads, MuJoCo C workers)`` of the last :func:`configure_threads`, if any."""
    return _configured
