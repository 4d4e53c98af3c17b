"""Resampling tracks to our 60 fps: linear for positions, slerp for rotations.

Output frame ``k`` is the instant ``k / 60`` s; a track at ``fps_in`` is read at the fractional
input frame ``k * fps_in / 60`` between its two neighbours. The clip ends at the last output
instant inside the input (no extrapolation), so 120 fps input keeps every second frame exactly.
"""

from __future__ import annotations

import math

import torch

from skillmimic import rotations as rot

FPS = 60.0


def num_output_frames(num_in: int, fps_in: float, fps_out: float = FPS) -> int:
    """Frames at ``fps_out`` covering ``num_in`` frames at ``fps_in`` (first and last instants inside)."""
    return math.floor((num_in - 1) * fps_out / fps_in + 1e-6) + 1


def sample_points(num_in: int, fps_in: float, num_out: int, fps_out: float = FPS) -> tuple[torch.Tensor, torch.Tensor]:
    """For each output frame: the input frame before it ``[n]`` and the fraction ``[n]`` towards the next."""
    pos = torch.arange(num_out, dtype=torch.float64) * (fps_in / fps_out)
    pos = pos.clamp(0.0, num_in - 1)
    i0 = pos.floor().long().clamp(max=max(num_in - 2, 0))
    return i0, pos - i0


def lerp(x: torch.Tensor, i0: torch.Tensor, frac: torch.Tensor) -> torch.Tensor:
    """Linear interpolation of ``x`` ``[T, ...]`` at the sample points."""
    if x.shape[0] == 1:
        return x[i0]
    f = frac.view(-1, *([1] * (x.dim() - 1))).to(x.dtype)
    return x[i0] + f * (x[i0 + 1] - x[i0])


def slerp(q: torch.Tensor, i0: torch.Tensor, frac: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation of unit quaternions ``q`` ``[T, ..., 4]`` at the sample points: the
    constant-speed shortest rotation from one frame to the next."""
    if q.shape[0] == 1:
        return q[i0]
    a, b = q[i0], q[i0 + 1]
    step = rot.quat_to_rotvec(rot.quat_mul(rot.quat_conj(a), b))  # log, shortest way (angle <= pi)
    f = frac.view(-1, *([1] * (q.dim() - 1))).to(q.dtype)
    return rot.normalize(rot.quat_mul(a, rot.quat_from_rotvec(f * step)))
