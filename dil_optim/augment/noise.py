"""Additive noise: white Gaussian noise (AWGN) and Real-ESRGAN's Poisson (shot) noise.

Both work on batches ``(N, C, H, W)`` in ``[0, 1]`` and draw their level per sample when
given a ``(low, high)`` range. Optional "grey" noise (one noise plane shared by all channels,
as in Real-ESRGAN's ``gray_noise_prob``) is chosen per sample with probability ``gray_prob``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ._poisson import poisson_levels
from .base import Degradation, ParamRange, RangeLike, rand, randn

__all__ = ["GaussianNoise", "PoissonNoise", "add_gaussian_noise", "add_poisson_noise", "rgb_to_gray"]

_GRAY_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R BT.601 luma, as torchvision's rgb_to_grayscale


def rgb_to_gray(x: Tensor) -> Tensor:
    """BT.601 luma of an ``(N, 3, H, W)`` batch, shape ``(N, 1, H, W)``; 1-channel input is returned as is."""
    if x.shape[1] == 1:
        return x
    if x.shape[1] != 3:
        raise ValueError(f"grey conversion needs 1 or 3 channels, got shape {tuple(x.shape)}")
    w = torch.tensor(_GRAY_WEIGHTS, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x * w).sum(dim=1, keepdim=True)


def add_gaussian_noise(
    x: Tensor, sigma: Tensor, gray: Tensor | None, generator: torch.Generator | None, *, clip: bool = True
) -> Tensor:
    """``x + n`` with ``n ~ N(0, (sigma_i / 255)^2)`` per sample ``i``.

    Args:
        x: ``(N, C, H, W)`` float in ``[0, 1]``.
        sigma: ``(N,)`` noise standard deviations on the 0-255 scale.
        gray: ``(N,)`` bool, True where sample ``i`` gets one noise plane for all channels
            (``None``: colour noise everywhere).
        clip: clamp the result to ``[0, 1]``.
    """
    n, c, h, w = x.shape
    s = (sigma.to(device=x.device, dtype=x.dtype) / 255.0).view(n, 1, 1, 1)
    if gray is None or c == 1 or not bool(gray.any()):
        noise = randn((n, c, h, w), generator, x.device, x.dtype)
    else:  # draw only what is used: one plane for grey samples, C planes for the others
        gray = gray.to(x.device)
        gidx, cidx = torch.nonzero(gray).flatten(), torch.nonzero(~gray).flatten()
        noise = x.new_empty((n, c, h, w))
        noise.index_copy_(0, gidx, randn((len(gidx), 1, h, w), generator, x.device, x.dtype).expand(-1, c, h, w))
        if len(cidx):
            noise.index_copy_(0, cidx, randn((len(cidx), c, h, w), generator, x.device, x.dtype))
    out = x + noise * s
    return out.clamp_(0.0, 1.0) if clip else out


def _poisson_noise(img: Tensor, generator: torch.Generator | None) -> Tensor:
    """Zero-mean shot noise of ``img`` (already in [0, 1]) at Real-ESRGAN's photon scale."""
    n = img.shape[0]
    levels = (img.clamp(0, 1) * 255.0).round().long().reshape(n, -1)
    # photon scale: 2 ** ceil(log2(number of distinct 8-bit values in the sample))
    hist = torch.zeros(n, 256, device=img.device, dtype=torch.float32)
    hist.scatter_add_(1, levels, torch.ones(levels.shape, device=img.device, dtype=torch.float32))
    distinct = (hist > 0).sum(dim=1).tolist()
    vals = [1 << max(0, math.ceil(math.log2(d))) for d in distinct]
    photons = torch.empty(levels.shape, device=img.device, dtype=torch.float64)
    for v in sorted(set(vals)):
        rows = [i for i, vi in enumerate(vals) if vi == v]
        if len(rows) == n:
            photons = poisson_levels(levels, v, generator)
        else:
            idx = torch.tensor(rows, device=img.device)
            photons.index_copy_(0, idx, poisson_levels(levels.index_select(0, idx), v, generator))
    pdtype = torch.float64 if img.dtype == torch.float64 else torch.float32
    scale = torch.tensor(vals, device=img.device, dtype=pdtype).view(n, 1)
    noise = photons.to(pdtype) / scale - levels.to(pdtype) / 255.0
    return noise.reshape(img.shape).to(img.dtype)


def add_poisson_noise(
    x: Tensor, scale: Tensor, gray: Tensor | None, generator: torch.Generator | None, *, clip: bool = True
) -> Tensor:
    """Real-ESRGAN's Poisson noise: ``x + scale_i * (Poisson(v * x8) / v - x8)``.

    ``x8`` is ``x`` rounded to 8 bits and ``v = 2 ** ceil(log2(#distinct 8-bit values))`` per
    sample (at most 256), as in BasicSR's ``generate_poisson_noise_pt``; the noise variance at
    a pixel of value ``p`` is therefore ``scale^2 * p / v``. Grey samples take the noise of
    the BT.601 luma image, shared by all channels. The Poisson draws use an exact table
    (alias) sampler, see :mod:`dil_optim.augment._poisson`.

    Args:
        x: ``(N, C, H, W)`` float in ``[0, 1]``.
        scale: ``(N,)`` noise scales (Real-ESRGAN draws them in ``[0.05, 3]``).
        gray: ``(N,)`` bool or ``None``.
        clip: clamp the result to ``[0, 1]``.
    """
    n, c, h, w = x.shape
    if gray is None or c == 1 or not bool(gray.any()):
        noise = _poisson_noise(x, generator)
    else:  # grey samples take the noise of their luma, shared by the channels; the rest colour noise
        gray = gray.to(x.device)
        gidx, cidx = torch.nonzero(gray).flatten(), torch.nonzero(~gray).flatten()
        noise = x.new_empty((n, c, h, w))
        noise.index_copy_(0, gidx, _poisson_noise(rgb_to_gray(x.index_select(0, gidx)), generator).expand(-1, c, h, w))
        if len(cidx):
            noise.index_copy_(0, cidx, _poisson_noise(x.index_select(0, cidx), generator))
    out = x + noise * scale.to(device=x.device, dtype=x.dtype).view(n, 1, 1, 1)
    return out.clamp_(0.0, 1.0) if clip else out


def _gray_flags(n: int, prob: float, generator: torch.Generator | None, device: torch.device) -> Tensor | None:
    if prob <= 0.0:
        return None
    return rand((n,), generator, device) < prob


def _check_prob(p: float, name: str) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {p!r}")
    return float(p)


class GaussianNoise(Degradation):
    """Additive white Gaussian noise (AWGN), the paper's denoising confounder.

    ``y = clip(x + n, 0, 1)`` with ``n = randn * sigma / 255``: ``sigma`` is on the 0-255
    scale and the noisy image is clipped to ``[0, 1]`` (the paper's convention).

    Args:
        sigma: noise standard deviation on the 0-255 scale (>= 0), fixed, or a
            ``(low, high)`` range drawn uniformly per sample.
        gray_prob: per-sample probability of grey noise (one plane for all channels).
        clip: clamp the output to ``[0, 1]``. With ``clip=False`` the output is exactly
            ``x + n`` and may leave ``[0, 1]`` (useful to measure the noise itself).
        name: label used by :class:`~dil_optim.augment.ConfounderSet` (default ``awgn<sigma>``).

    Input ``(N, C, H, W)`` float in ``[0, 1]``; output same shape, dtype and device.
    """

    def __init__(self, sigma: RangeLike, *, gray_prob: float = 0.0, clip: bool = True, name: str | None = None) -> None:
        self.sigma = ParamRange(sigma, "sigma", min_value=0.0)
        self.gray_prob = _check_prob(gray_prob, "gray_prob")
        self.clip = bool(clip)
        self.name = name if name is not None else f"awgn{self.sigma!r}"

    def _apply(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        n = x.shape[0]
        sigma = self.sigma.sample(n, generator, x.device)
        gray = _gray_flags(n, self.gray_prob, generator, x.device)
        return add_gaussian_noise(x, sigma, gray, generator, clip=self.clip)

    def _params_repr(self) -> str:
        return f"sigma={self.sigma!r}, gray_prob={self.gray_prob:g}, clip={self.clip}"


class PoissonNoise(Degradation):
    """Real-ESRGAN's Poisson (shot) noise; see :func:`add_poisson_noise` for the formula.

    Args:
        scale: noise scale (>= 0), fixed or a ``(low, high)`` range drawn per sample;
            Real-ESRGAN uses ``(0.05, 3)`` in its first stage and ``(0.05, 2.5)`` in its second.
        gray_prob: per-sample probability of grey noise (Real-ESRGAN: 0.4).
        clip: clamp the output to ``[0, 1]``.
        name: label (default ``poisson<scale>``).

    Input ``(N, C, H, W)`` float in ``[0, 1]``; output same shape, dtype and device.
    """

    def __init__(self, scale: RangeLike, *, gray_prob: float = 0.0, clip: bool = True, name: str | None = None) -> None:
        self.scale = ParamRange(scale, "scale", min_value=0.0)
        self.gray_prob = _check_prob(gray_prob, "gray_prob")
        self.clip = bool(clip)
        self.name = name if name is not None else f"poisson{self.scale!r}"

    def _apply(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        n = x.shape[0]
        scale = self.scale.sample(n, generator, x.device)
        gray = _gray_flags(n, self.gray_prob, generator, x.device)
        return add_poisson_noise(x, scale, gray, generator, clip=self.clip)

    def _params_repr(self) -> str:
        return f"scale={self.scale!r}, gray_prob={self.gray_prob:g}, clip={self.clip}"
