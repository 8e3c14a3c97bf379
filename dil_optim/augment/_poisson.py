"""Fast exact Poisson sampling for Real-ESRGAN's shot noise (rates on a 256-level grid).

Real-ESRGAN's Poisson noise draws ``Poisson(v * k / 255)`` for 8-bit levels ``k = 0..255``
and a per-image photon scale ``v`` in {1, 2, 4, ..., 256}: at most 256 distinct rates per
scale. For each scale we tabulate the 256 probability mass functions (truncated where the
remaining tail mass is below 1e-30) and draw from them with Walker's alias method: one
uniform number, two table look-ups and a comparison per sample, several times faster on
a CPU than ``torch.poisson``'s rejection sampler and exact up to float64 rounding of the
tables. The tables (about 2 MB per scale) are built on first use and kept.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from torch import Tensor

from .base import rand

__all__ = ["poisson_levels"]


def _support(vals: int) -> int:
    """Number of outcomes kept for the largest rate ``vals``: tail beyond holds < 1e-30 of the mass."""
    return int(math.ceil(vals + 12.0 * math.sqrt(vals) + 30.0))


@functools.lru_cache(maxsize=16)
def _alias_tables_cpu(vals: int) -> tuple[Tensor, Tensor]:
    """``(prob, alias)`` of shape ``(256 * K,)`` for the rates ``vals * k / 255``, ``k = 0..255``."""
    size = _support(vals)
    lam = torch.arange(256, dtype=torch.float64) * (vals / 255.0)
    m = torch.arange(size, dtype=torch.float64)
    logp = m * torch.log(lam.clamp_min(1e-300)).unsqueeze(1) - lam.unsqueeze(1) - torch.lgamma(m + 1)
    pmf = torch.exp(logp)
    pmf[0] = 0.0
    pmf[0, 0] = 1.0  # rate 0: always 0
    pmf_np = (pmf / pmf.sum(dim=1, keepdim=True)).numpy()
    prob = np.ones((256, size))
    alias = np.tile(np.arange(size), (256, 1))
    for row in range(256):  # Vose's construction, one row at a time
        scaled = pmf_np[row] * size
        small = [i for i in range(size) if scaled[i] < 1.0]
        large = [i for i in range(size) if scaled[i] >= 1.0]
        while small and large:
            s, big = small.pop(), large.pop()
            prob[row, s], alias[row, s] = scaled[s], big
            scaled[big] += scaled[s] - 1.0
            (small if scaled[big] < 1.0 else large).append(big)
    return torch.from_numpy(prob.reshape(-1)), torch.from_numpy(alias.reshape(-1).astype(np.int64))


_DEVICE_TABLES: dict[tuple[int, str], tuple[Tensor, Tensor]] = {}


def _alias_tables(vals: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """``(prob, alias)`` as float64 tables on ``device``."""
    key = (vals, str(device))
    if key not in _DEVICE_TABLES:
        prob, alias = _alias_tables_cpu(vals)
        if len(_DEVICE_TABLES) >= 16:
            _DEVICE_TABLES.clear()
        _DEVICE_TABLES[key] = (prob.to(device), alias.to(device=device, dtype=torch.float64))
    return _DEVICE_TABLES[key]


def poisson_levels(levels: Tensor, vals: int, generator: torch.Generator | None) -> Tensor:
    """Draw ``Poisson(vals * levels / 255)`` elementwise.

    Args:
        levels: integer tensor (any shape) of 8-bit levels in ``0..255``.
        vals: photon scale, a power of two in ``1..256``.
        generator: RNG (one uniform number is drawn per element).

    Returns:
        float64 counts (whole numbers), same shape and device as ``levels``.
    """
    if vals < 1 or vals > 256 or vals & (vals - 1):
        raise ValueError(f"photon scale must be a power of two in [1, 256], got {vals}")
    prob, alias = _alias_tables(vals, levels.device)
    size = _support(vals)
    u = rand(levels.shape, generator, levels.device, torch.float64).mul_(size)
    pick = u.floor().clamp_(max=size - 1)  # uniform outcome; u - pick is a second uniform
    idx = (levels.long() * size).add_(pick.long())
    return torch.where(u.sub_(pick) < torch.take(prob, idx), pick, torch.take(alias, idx))
