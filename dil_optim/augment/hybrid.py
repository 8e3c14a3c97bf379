"""Hybrid distortions: Gaussian blur, then Gaussian noise, then JPEG, at mild / moderate / severe levels.

The levels follow the hybrid-distortion protocol that the DIL paper follows (its refs [28]
and [66]):

* [66] K. Yu, C. Dong, L. Lin, C. C. Loy, "Crafting a Toolchain for Image Restoration by Deep
  Reinforcement Learning" (RL-Restore), CVPR 2018, whose data script
  (github.com/yuke93/RL-Restore, ``data/train/generate_train.m``) defines the protocol;
* [28] X. Li et al., "Learning Disentangled Feature Representation for Hybrid-distorted
  Image Restoration", ECCV 2020, which uses the same DIV2K mild / moderate / severe sets.

Each of the three distortions has ten levels ``l = 1..10``; level ``l`` draws its parameter
uniformly inside one bin:

==========  ==============================================================================
blur sigma  ``[0.5 (l-1), 0.5 l]`` pixels (bins of 0.5 over ``[0, 5]``)
noise sigma ``[5 (l-1), 5 l]`` on the 0-255 scale (bins of 5 over ``[0, 50]``)
JPEG q      between ``Q[l-1]`` and ``Q[l]`` with ``Q = [100, 80, 60, 50, 40, 35, 30, 25, 20, 15, 10]``
==========  ==============================================================================

A sample's three levels ``(lb, ln, lj)`` are drawn uniformly among the ordered triples whose
*level sum* ``lb + ln + lj - 2`` lies in the set's range:
**mild** ``[9, 11]``, **moderate** ``[12, 17]``, **severe** ``[18, 20]``. RL-Restore trains on
moderate; the DIL paper trains on "multiple levels of severe" and tests on mild and moderate
(supplementary Sec. 11.2.1), which :func:`dil_optim.augment.paper_confounders` models as one
confounder per severe level sum (18, 19, 20).

Differences from the MATLAB original, kept on purpose: the blur kernel is 21x21 (as
``fspecial('gaussian', 21, sigma)``) but padded by reflection instead of replication; the
noise is clipped to ``[0, 1]`` (as ``imnoise``); JPEG uses libjpeg through torchvision at the
rounded quality instead of MATLAB's ``imwrite``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .base import Degradation, rand, randint
from .blur import filter_separable, gaussian_kernel1d
from .jpeg import jpeg_compress
from .noise import add_gaussian_noise

__all__ = ["HybridDistortion", "HYBRID_LEVELS", "level_triples"]

HYBRID_LEVELS: dict[str, tuple[int, int]] = {"mild": (9, 11), "moderate": (12, 17), "severe": (18, 20)}
_QUALITY_STEPS = (100.0, 80.0, 60.0, 50.0, 40.0, 35.0, 30.0, 25.0, 20.0, 15.0, 10.0)
_KERNEL_SIZE = 21


def level_triples(low: int, high: int, levels: int = 10) -> Tensor:
    """All ordered level triples ``(lb, ln, lj)`` in ``1..levels`` with ``lb + ln + lj - 2`` in ``[low, high]``.

    Returns an ``(M, 3)`` int64 tensor (RL-Restore's ``noise_combination``, without duplicates).
    """
    r = torch.arange(1, levels + 1)
    grid = torch.cartesian_prod(r, r, r)
    s = grid.sum(dim=1) - 2
    out = grid[(s >= low) & (s <= high)]
    if out.numel() == 0:
        raise ValueError(f"no level triple has a level sum in [{low}, {high}]")
    return out


class HybridDistortion(Degradation):
    """Blur -> AWGN -> JPEG with RL-Restore's levels (see the module docstring).

    Args:
        level: ``"mild"``, ``"moderate"`` or ``"severe"``, or an explicit ``(low, high)``
            range of level sums, or a single level sum (an int, e.g. 18).
        name: label (default ``hybrid_<level>``).

    Every sample draws its own level triple and parameters. Input ``(N, C, H, W)`` float in
    ``[0, 1]`` with 1 or 3 channels; output the same shape, dtype and device.
    """

    channels = (1, 3)

    def __init__(self, level: str | int | Sequence[int] = "severe", *, name: str | None = None) -> None:
        if isinstance(level, str):
            if level not in HYBRID_LEVELS:
                raise ValueError(f"level must be one of {sorted(HYBRID_LEVELS)} or a level-sum range, got {level!r}")
            lo, hi = HYBRID_LEVELS[level]
            label = level
        elif isinstance(level, int) and not isinstance(level, bool):
            lo = hi = level
            label = f"sum{level}"
        elif isinstance(level, Sequence) and len(level) == 2 and all(isinstance(v, int) for v in level):
            lo, hi = int(level[0]), int(level[1])
            label = f"sum{lo}-{hi}"
        else:
            raise TypeError(f"level must be a level name, an int or an (int, int) range, got {level!r}")
        if not 1 <= lo <= hi <= 28:
            raise ValueError(f"level sums must satisfy 1 <= low <= high <= 28, got ({lo}, {hi})")
        self.level = level if isinstance(level, (str, int)) else (lo, hi)
        self.level_sum = (lo, hi)
        self._triples = level_triples(lo, hi)
        self.name = name if name is not None else f"hybrid_{label}"

    def sample_params(
        self, n: int, generator: torch.Generator | None, device: torch.device, dtype: torch.dtype = torch.float64
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Per-sample ``(blur_sigma, noise_sigma, jpeg_quality)``, each ``(n,)``."""
        triples = self._triples.to(device)
        lv = triples[randint(len(triples), (n,), generator, device)]  # (n, 3), levels 1..10
        u = rand((n, 3), generator, device, dtype)
        lb, ln, lj = (lv[:, i].to(dtype) for i in range(3))
        blur = 0.5 * (lb - 1) + 0.5 * u[:, 0]
        noise = 5.0 * (ln - 1) + 5.0 * u[:, 1]
        steps = torch.tensor(_QUALITY_STEPS, device=device, dtype=dtype)
        q_hi, q_lo = steps[lv[:, 2] - 1], steps[lv[:, 2]]
        quality = q_hi + (q_lo - q_hi) * u[:, 2]
        return blur, noise, quality

    def _apply(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        n = x.shape[0]
        kdtype = torch.float64 if x.dtype == torch.float64 else torch.float32
        blur, noise, quality = self.sample_params(n, generator, x.device, kdtype)
        y = filter_separable(x, gaussian_kernel1d(blur, _KERNEL_SIZE // 2))
        y = add_gaussian_noise(y.clamp(0, 1), noise, None, generator, clip=True)
        return jpeg_compress(y, quality.round())

    def _params_repr(self) -> str:
        return f"level={self.level!r}, level_sum={self.level_sum}"
