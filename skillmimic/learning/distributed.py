"""Data-parallel training under ``torchrun``: one process per rank, each simulating its own
``num_envs`` worlds, one policy.

``torchrun --nproc_per_node N -m skillmimic train ...`` starts N ranks (``--nnodes M
--rdzv_endpoint HOST:PORT`` spreads them over machines). Every rank joins the process group here
(NCCL on CUDA, each local rank on its own GPU; gloo on the CPU), seeds its worlds with ``seed +
rank`` (its episodes start elsewhere than its neighbours'), and hands rl-games its ``multi_gpu``
path: parameters broadcast from rank 0 at the start, gradients averaged across ranks every
minibatch, KL averaged, the learning rate and the stop decision (``--minutes`` too) broadcast from
rank 0. rl-games leaves the observation and value normalisers per rank; ``sync_running_stats``
merges them after every minibatch so every rank keeps identical ones. Rank 0 alone prints, writes
tensorboard, the config and the checkpoints; at the end ``check_in_sync`` compares every rank's
weights and normalisers.

Not in rl-games: its multi-GPU mode initialises NCCL and moves to ``cuda:LOCAL_RANK`` itself, so the
agent is built as a single-process one and ``enable`` switches it to the distributed path after.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from skillmimic.errors import SkillMimicError

TIMEOUT = datetime.timedelta(minutes=10)  # a collective waiting longer than this ends the job


@dataclass(frozen=True)
class Ranks:
    """Where this process stands in the job (torchrun's ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``,
    ``LOCAL_WORLD_SIZE``); one process: rank 0 of 1."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    local_world_size: int = 1

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def main(self) -> bool:
        """The rank that prints and writes."""
        return self.rank == 0


def ranks() -> Ranks:
    env = os.environ
    world = int(env.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Ranks()
    return Ranks(
        rank=int(env["RANK"]),
        local_rank=int(env.get("LOCAL_RANK", "0")),
        world_size=world,
        local_world_size=int(env.get("LOCAL_WORLD_SIZE", str(world))),
    )


def join(device: str) -> tuple[Ranks, str]:
    """Join torchrun's process group (if there is one) and return the ranks and this rank's device:
    ``cuda`` becomes ``cuda:LOCAL_RANK``; fewer visible GPUs than local ranks is refused."""
    r = ranks()
    if not r.distributed:
        return r, device
    if device.startswith("cuda"):
        gpus = torch.cuda.device_count()
        if r.local_rank >= gpus:
            raise SkillMimicError(
                f"torchrun started {r.local_world_size} ranks on this machine but {gpus} GPU(s) are visible: "
                "one GPU per local rank (or --device cpu)"
            )
        device = f"cuda:{r.local_rank}"
        torch.cuda.set_device(r.local_rank)
        backend = "nccl"
    else:
        backend = "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend, timeout=TIMEOUT)
    return r, device


def leave() -> None:
    """Leave the process group at the end of training (a no-op for one process)."""
    if dist.is_initialized():
        dist.destroy_process_group()


def sync_running_stats(module: torch.nn.Module, world_size: int) -> None:
    """Merge every running mean/variance normaliser under ``module`` across ranks: the pooled mean
    and variance of the ranks' statistics (exact for equal sample counts, which every rank has: the
    same number of minibatches of the same size). Afterwards every rank holds the same values."""
    for m in module.modules():
        mean, var = getattr(m, "running_mean", None), getattr(m, "running_var", None)
        if not isinstance(mean, torch.Tensor) or not isinstance(var, torch.Tensor):
            continue
        pooled = mean.clone()
        dist.all_reduce(pooled)
        pooled /= world_size
        spread = var + (mean - pooled) ** 2
        dist.all_reduce(spread)
        mean.copy_(pooled)
        var.copy_(spread / world_size)


def digest(module: torch.nn.Module) -> str:
    """A short hash of every parameter and buffer (weights, normalisers) of ``module``."""
    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def check_in_sync(module: torch.nn.Module, r: Ranks) -> str:
    """Every rank's digest of ``module``, compared on all ranks: a mismatch is an error (the ranks
    trained different policies); returns the common digest."""
    mine = digest(module)
    every: list[str | None] = [None] * r.world_size
    dist.all_gather_object(every, mine)
    if len(set(every)) != 1:
        raise SkillMimicError(f"ranks ended with different weights: digests {every}")
    return mine


@contextlib.contextmanager
def cuda_free_multi_gpu(device: str):
    """rl-games' multi-GPU training loop calls ``torch.cuda.set_device(LOCAL_RANK)``; on the CPU
    (gloo) there is no CUDA device to set, so that call is made a no-op for the loop's duration."""
    if str(device).startswith("cuda"):
        yield
        return
    original = torch.cuda.set_device
    torch.cuda.set_device = lambda *_args, **_kw: None
    try:
        yield
    finally:
        torch.cuda.set_device = original
