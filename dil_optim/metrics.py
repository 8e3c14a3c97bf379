"""PSNR and SSIM as the image-restoration literature reports them (BasicSR / MATLAB conventions).

Both metrics take ``(N, C, H, W)`` float tensors in ``[0, 1]`` on any device and return one
value per image, a ``(N,)`` float64 tensor on the same device. Before comparing, each image is
clipped to ``[0, 1]`` and rounded to 8 bits (``round(255 x)``, half to even), as saving the
restored image and reading it back does in the papers' evaluation. Computation is in float64
on the 0-255 scale, batched, with no host-device synchronisation.

- ``y_channel=True``: compare the luma of ITU-R BT.601 as MATLAB's ``rgb2ycbcr`` defines it,
  ``Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255`` for 8-bit ``R, G, B`` in ``[0, 255]``
  (so ``Y`` is in ``[16, 235]``, not rounded), with the peak still 255.
- ``crop_border=b``: ignore ``b`` pixels on each side (SR papers crop the scale factor).
- SSIM: Wang et al. (2004): 11x11 Gaussian window with sigma 1.5, ``K1 = 0.01``,
  ``K2 = 0.03``, data range 255, population (co)variances, averaged over the window
  positions that fit inside the image ("valid"), then over channels. This equals
  ``skimage.metrics.structural_similarity(..., gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=255)`` (which filters with reflection and then
  crops the 5-pixel border, i.e. the same valid positions) and BasicSR's ``calculate_ssim``.
"""

from __future__ import annotations

import math

import torch

__all__ = ["psnr", "ssim", "rgb_to_y", "quantize_8bit"]

#: BT.601 luma weights for 8-bit RGB in [0, 255] (MATLAB rgb2ycbcr; sum 219/255).
_Y_WEIGHTS = (65.481, 128.553, 24.966)
_SSIM_SIGMA = 1.5
_SSIM_RADIUS = 5  # int(3.5 * 1.5 + 0.5), as scipy.ndimage / skimage truncate the Gaussian
_SSIM_K1, _SSIM_K2 = 0.01, 0.03
_PEAK = 255.0


def quantize_8bit(x: torch.Tensor) -> torch.Tensor:
    """``(..)`` float in ``[0, 1]`` -> float64 integers in ``[0, 255]``: ``round(255 clip(x, 0, 1))``."""
    return x.detach().to(torch.float64).clamp(0.0, 1.0).mul(_PEAK).round()


def rgb_to_y(x: torch.Tensor) -> torch.Tensor:
    """BT.601 luma (MATLAB ``rgb2ycbcr``) of ``(N, 3, H, W)`` RGB in ``[0, 1]``.

    Returns ``(N, 1, H, W)`` in ``[16/255, 235/255]``:
    ``(16 + 65.481 R + 128.553 G + 24.966 B) / 255``, in the dtype of ``x`` (no rounding).
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"rgb_to_y expects a float tensor, got {getattr(x, 'dtype', type(x).__name__)}")
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"rgb_to_y expects (N, 3, H, W), got {tuple(x.shape)}")
    w = torch.tensor(_Y_WEIGHTS, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return ((x * w).sum(dim=1, keepdim=True) + 16.0) / _PEAK


def _prepare(
    output: torch.Tensor, target: torch.Tensor, crop_border: int, y_channel: bool, min_side: int, metric: str
) -> tuple[torch.Tensor, torch.Tensor]:
    for label, t in (("output", output), ("target", target)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{metric}: {label} must be a torch.Tensor, got {type(t).__name__}")
        if not t.is_floating_point():
            raise TypeError(f"{metric}: {label} must be a float tensor in [0, 1], got {t.dtype}")
        if t.dim() != 4:
            raise ValueError(f"{metric}: {label} must be (N, C, H, W), got shape {tuple(t.shape)}")
    if output.shape != target.shape:
        raise ValueError(f"{metric}: output {tuple(output.shape)} and target {tuple(target.shape)} differ in shape")
    if output.device != target.device:
        raise ValueError(f"{metric}: output on {output.device}, target on {target.device}")
    if isinstance(crop_border, bool) or not isinstance(crop_border, int) or crop_border < 0:
        raise ValueError(f"{metric}: crop_border must be a non-negative int, got {crop_border!r}")
    n, c, h, w = output.shape
    if y_channel and c != 3:
        raise ValueError(f"{metric}: y_channel=True needs 3 (RGB) channels, got {c}")
    if n == 0 or c == 0:
        raise ValueError(f"{metric}: empty batch, shape {tuple(output.shape)}")
    if min(h, w) - 2 * crop_border < min_side:
        raise ValueError(
            f"{metric}: images of {h}x{w} with crop_border={crop_border} leave less than {min_side}x{min_side} pixels"
        )
    a, b = quantize_8bit(output), quantize_8bit(target)
    if y_channel:
        wts = torch.tensor(_Y_WEIGHTS, dtype=torch.float64, device=a.device).view(1, 3, 1, 1)
        a = (a * wts).sum(dim=1, keepdim=True) / _PEAK + 16.0
        b = (b * wts).sum(dim=1, keepdim=True) / _PEAK + 16.0
    if crop_border:
        a = a[..., crop_border:-crop_border, crop_border:-crop_border]
        b = b[..., crop_border:-crop_border, crop_border:-crop_border]
    return a, b


@torch.no_grad()
def psnr(output: torch.Tensor, target: torch.Tensor, *, crop_border: int = 0, y_channel: bool = False) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB per image: ``10 log10(255^2 / MSE)``.

    ``output``, ``target``: ``(N, C, H, W)`` float in ``[0, 1]`` (clipped, then rounded to
    8 bits); MSE is over all channels and pixels of each image (or over Y with
    ``y_channel=True``, which needs ``C = 3``). Returns ``(N,)`` float64 on the input device;
    ``inf`` for identical images; NaN inputs give NaN.
    """
    a, b = _prepare(output, target, crop_border, y_channel, 1, "psnr")
    mse = (a - b).square().mean(dim=(1, 2, 3))
    return 10.0 * torch.log10(_PEAK**2 / mse)


def _gaussian_taps() -> list[float]:
    """The 11 normalised taps of the Gaussian window (sigma 1.5, radius 5), as scipy builds them."""
    g = [math.exp(-0.5 * (k / _SSIM_SIGMA) ** 2) for k in range(-_SSIM_RADIUS, _SSIM_RADIUS + 1)]
    total = math.fsum(g)
    return [v / total for v in g]


def _filter_valid(x: torch.Tensor, taps: list[float], dim: int) -> torch.Tensor:
    """Correlate ``x`` with ``taps`` along ``dim``, keeping only the positions where the window
    fits ("valid"). A sum of shifted slices: on CPU several times faster than ``conv2d`` with a
    single-channel float64 kernel, and plain elementwise work on GPU."""
    n = x.shape[dim] - len(taps) + 1
    out = x.narrow(dim, 0, n) * taps[0]
    for k in range(1, len(taps)):
        out.add_(x.narrow(dim, k, n), alpha=taps[k])
    return out


@torch.no_grad()
def ssim(output: torch.Tensor, target: torch.Tensor, *, crop_border: int = 0, y_channel: bool = False) -> torch.Tensor:
    """Structural similarity per image (Wang et al. 2004; see the module docstring).

    Same inputs as :func:`psnr`; each image (after cropping) must be at least 11x11. Returns
    ``(N,)`` float64 on the input device, the mean over channels of the mean SSIM map.
    Memory: about 10 float64 copies of the batch.
    """
    a, b = _prepare(output, target, crop_border, y_channel, 2 * _SSIM_RADIUS + 1, "ssim")
    n, c, h, w = a.shape
    taps = _gaussian_taps()
    stats = torch.stack((a, b, a * a, b * b, a * b))  # (5, N, C, H, W)
    stats = _filter_valid(_filter_valid(stats, taps, -1), taps, -2)
    ux, uy, uxx, uyy, uxy = stats.unbind(0)
    vx, vy, vxy = uxx - ux * ux, uyy - uy * uy, uxy - ux * uy
    c1, c2 = (_SSIM_K1 * _PEAK) ** 2, (_SSIM_K2 * _PEAK) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s.mean(dim=(-2, -1)).mean(dim=1)
