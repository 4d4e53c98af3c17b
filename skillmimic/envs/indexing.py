"""Constant index lists (body ids) as tensors, built once per device.

Indexing with a Python list builds an index tensor (and on CUDA copies it to the device) on
every call; the env indexes the same few lists every step.
"""

from __future__ import annotations

import functools

import torch


@functools.cache
def index_tensor(ids: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """``ids`` as a long tensor on ``device`` (cached; do not modify it)."""
    return torch.tensor(ids, dtype=torch.long, device=device)


def take(x: torch.Tensor, dim: int, ids: tuple[int, ...]) -> torch.Tensor:
    """``x`` indexed by ``ids`` along ``dim`` (like ``x[:, list(ids)]`` for ``dim=1``)."""
    return x.index_select(dim, index_tensor(ids, x.device))
