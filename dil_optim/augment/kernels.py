"""Real-ESRGAN's blur-kernel families, generated in batches (one kernel per sample).

Families (Wang et al., "Real-ESRGAN", ICCV-W 2021, Sec. 3.2; BasicSR ``degradations.py``):

* ``iso`` / ``aniso``: Gaussian ``exp(-q / 2)``,
* ``generalized_iso`` / ``generalized_aniso``: generalised Gaussian ``exp(-q^beta / 2)``,
* ``plateau_iso`` / ``plateau_aniso``: plateau ``1 / (1 + q^beta)``,
* ``sinc``: the circular low-pass (2-D sinc) ``omega_c J1(omega_c r) / (2 pi r)``, with J1 from
  :func:`bessel_j1` (float64, within about 1e-15 of scipy's ``j1``; ``torch.special.bessel_j1``
  is off by up to 4.7e-7 for x in [5, 50] on CPU),

with ``q = x^T S^-1 x``, ``S = R(theta) diag(sigma_x^2, sigma_y^2) R(theta)^T`` (isotropic
kernels: ``sigma_y = sigma_x``, ``theta = 0``). Every kernel is normalised to sum 1.
Parameter draws follow Real-ESRGAN: kernel size uniform over the odd sizes 7..21, sigma
uniform in ``sigma_range``, theta uniform in ``[-pi, pi]``, beta uniform in
``[beta_low, 1]`` or ``[1, beta_high]`` with probability 1/2 each, sinc cut-off uniform in
``[pi/3, pi]`` for sizes below 13 and ``[pi/5, pi]`` otherwise. Kernels smaller than the
21x21 grid are zero-padded to it, as Real-ESRGAN pads before filtering.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from .base import rand, randint
from .blur import _quadratic_form

__all__ = ["KERNEL_TYPES", "MixedKernelSampler", "bessel_j1", "bivariate_kernels", "sinc_kernels"]

KERNEL_TYPES = ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso", "sinc")
_SIZES = tuple(range(7, 22, 2))  # Real-ESRGAN's kernel_range: 7, 9, ..., 21


def _square_support(size: Tensor, grid: int) -> Tensor:
    """``(N, grid, grid)`` masks of the centred ``size x size`` squares."""
    r = grid // 2
    t = torch.arange(-r, r + 1, device=size.device)
    half = (size // 2).view(-1, 1, 1)
    return (t.view(1, -1, 1).abs() <= half) & (t.view(1, 1, -1).abs() <= half)


def bivariate_kernels(
    family: str, sigma_x: Tensor, sigma_y: Tensor, theta: Tensor, beta: Tensor, size: Tensor, grid: int = 21
) -> Tensor:
    """Gaussian-type kernels, ``(N, grid, grid)``.

    Args:
        family: ``"gaussian"``, ``"generalized"`` or ``"plateau"``.
        sigma_x, sigma_y, theta, beta: ``(N,)`` parameters (beta unused for ``gaussian``).
        size: ``(N,)`` odd kernel sizes <= ``grid``; taps outside are zero.
    """
    q = _quadratic_form(sigma_x, sigma_y, theta, grid // 2)
    b = beta.view(-1, 1, 1)
    if family == "gaussian":
        k = torch.exp(-0.5 * q)
    elif family == "generalized":
        k = torch.exp(-0.5 * q.pow(b))
    elif family == "plateau":
        k = 1.0 / (1.0 + q.pow(b))
    else:
        raise ValueError(f"unknown kernel family {family!r}; expected gaussian, generalized or plateau")
    k = k * _square_support(size, grid)
    return k / k.sum(dim=(1, 2), keepdim=True)


def bessel_j1(x: Tensor) -> Tensor:
    """The Bessel function of the first kind of order one, accurate to float64 round-off.

    Bessel's integral ``J1(x) = 1/(2 pi) int_0^{2 pi} cos(t - x sin t) dt`` has a periodic,
    analytic integrand, so the trapezoid rule on ``n`` equally spaced nodes converges
    geometrically once ``n`` exceeds ``|x|`` (its error is ``J_{n-1}(x) + J_{n+1}(x) + ...``);
    ``n = |x|_max + 8 |x|_max^(1/3) + 32`` nodes keep it within about 1e-15 of scipy's ``j1``
    for ``|x| <= 1000`` (tests/augment/test_kernels.py). Cost: ``n`` cosines per element
    (about 80 for the 21x21 sinc kernels), and one device sync to read ``max |x|``.

    Args:
        x: any shape, any floating dtype and device.
    Returns:
        ``J1(x)``, same shape, dtype and device as ``x`` (computed in float64).
    """
    x64 = x.to(torch.float64)
    if x64.numel() == 0:
        return x.clone()
    x_max = float(x64.abs().amax())
    if not math.isfinite(x_max):
        raise ValueError(f"bessel_j1 needs finite arguments, got max |x| = {x_max}")
    n = 2 * math.ceil((x_max + 8.0 * x_max ** (1.0 / 3.0) + 32.0) / 2.0)
    tau = torch.arange(n, dtype=torch.float64, device=x.device) * (2.0 * math.pi / n)
    j1 = torch.cos(tau - x64.unsqueeze(-1) * torch.sin(tau)).mean(dim=-1)
    return j1.to(x.dtype)


def sinc_kernels(omega_c: Tensor, size: Tensor, grid: int = 21) -> Tensor:
    """Circular low-pass kernels ``omega_c J1(omega_c r) / (2 pi r)`` (centre ``omega_c^2 / (4 pi)``).

    Args:
        omega_c: ``(N,)`` cut-off frequencies in radians per pixel (``(0, pi]``).
        size: ``(N,)`` odd kernel sizes <= ``grid``.
    Returns:
        ``(N, grid, grid)`` kernels normalised to sum 1 (they have negative lobes).
    """
    r0 = grid // 2
    t = torch.arange(-r0, r0 + 1, device=omega_c.device, dtype=omega_c.dtype)
    yy, xx = torch.meshgrid(t, t, indexing="ij")
    rad = torch.sqrt(xx * xx + yy * yy)
    w = omega_c.view(-1, 1, 1)
    safe = torch.where(rad > 0, rad, torch.ones_like(rad))
    k = w * bessel_j1(w * safe) / (2 * math.pi * safe)
    k = torch.where(rad > 0, k, w * w / (4 * math.pi))
    k = k * _square_support(size, grid)
    return k / k.sum(dim=(1, 2), keepdim=True)


def _check_range(value: Sequence[float], name: str, low: float, high: float) -> tuple[float, float]:
    if len(value) != 2 or not (low <= value[0] <= value[1] <= high):
        raise ValueError(f"{name} must be a (low, high) pair within [{low}, {high}], got {tuple(value)!r}")
    return float(value[0]), float(value[1])


class MixedKernelSampler:
    """Draw one Real-ESRGAN blur kernel per sample.

    Args:
        kernel_list: families to draw from (subset of :data:`KERNEL_TYPES` without ``sinc``).
        kernel_prob: their relative probabilities (normalised here).
        sigma_range: sigma range in pixels (Real-ESRGAN: (0.2, 3) first stage, (0.2, 1.5) second).
        betag_range: generalised-Gaussian beta range (Real-ESRGAN: (0.5, 4)).
        betap_range: plateau beta range (Real-ESRGAN: (1, 2)).
        sinc_prob: probability of a sinc kernel instead (Real-ESRGAN: 0.1).
        grid: size of the returned kernels (21).
    """

    def __init__(
        self,
        kernel_list: Sequence[str],
        kernel_prob: Sequence[float],
        *,
        sigma_range: Sequence[float] = (0.2, 3.0),
        betag_range: Sequence[float] = (0.5, 4.0),
        betap_range: Sequence[float] = (1.0, 2.0),
        sinc_prob: float = 0.1,
        grid: int = 21,
    ) -> None:
        kernel_list = list(kernel_list)
        bad = [k for k in kernel_list if k not in KERNEL_TYPES or k == "sinc"]
        if bad or not kernel_list:
            raise ValueError(f"kernel_list must be a non-empty subset of {KERNEL_TYPES[:-1]}, got {kernel_list!r}")
        if len(kernel_prob) != len(kernel_list) or any(p < 0 for p in kernel_prob) or sum(kernel_prob) <= 0:
            raise ValueError(f"kernel_prob must be {len(kernel_list)} non-negative weights, got {list(kernel_prob)!r}")
        if not 0.0 <= sinc_prob <= 1.0:
            raise ValueError(f"sinc_prob must be in [0, 1], got {sinc_prob!r}")
        self.kernel_list = kernel_list
        total = float(sum(kernel_prob))
        self.kernel_prob = [float(p) / total for p in kernel_prob]
        self.sigma_range = _check_range(sigma_range, "sigma_range", 1e-3, 100.0)
        self.betag_range = _check_range(betag_range, "betag_range", 1e-3, 100.0)
        self.betap_range = _check_range(betap_range, "betap_range", 1e-3, 100.0)
        self.sinc_prob = float(sinc_prob)
        self.grid = int(grid)

    def sample(
        self, n: int, generator: torch.Generator | None, device: torch.device, dtype: torch.dtype = torch.float32
    ) -> Tensor:
        """``(n, grid, grid)`` kernels, each normalised to sum 1."""
        return self.sample_with_sizes(n, generator, device, dtype)[0]

    def sample_with_sizes(
        self, n: int, generator: torch.Generator | None, device: torch.device, dtype: torch.dtype = torch.float32
    ) -> tuple[Tensor, Tensor]:
        """Kernels ``(n, grid, grid)`` and their sizes ``(n,)`` (taps outside the centred size are 0)."""
        u = rand((n, 7), generator, device, dtype)
        size = torch.tensor(_SIZES, device=device)[randint(len(_SIZES), (n,), generator, device)]
        probs = torch.tensor(self.kernel_prob, device=device, dtype=torch.float64)
        cdf = torch.cumsum(probs, 0)
        fam = torch.searchsorted(cdf, u[:, 0].to(torch.float64).contiguous(), right=True).clamp_max(len(probs) - 1)
        names = [self.kernel_list[int(i)] for i in range(len(self.kernel_list))]
        lo, hi = self.sigma_range
        sx = lo + (hi - lo) * u[:, 1]
        sy = lo + (hi - lo) * u[:, 2]
        theta = -math.pi + 2 * math.pi * u[:, 3]
        iso = torch.tensor([not nm.endswith("aniso") for nm in names], device=device)[fam]
        sy = torch.where(iso, sx, sy)
        theta = torch.where(iso, torch.zeros_like(theta), theta)
        low_half = u[:, 4] < 0.5
        kernels = torch.zeros(n, self.grid, self.grid, device=device, dtype=dtype)
        for i, nm in enumerate(names):
            sel = fam == i
            if not bool(sel.any()):
                continue
            family = nm.split("_")[0] if nm.startswith(("generalized", "plateau")) else "gaussian"
            b_lo, b_hi = self.betag_range if family == "generalized" else self.betap_range
            beta = torch.where(low_half, b_lo + (1.0 - b_lo) * u[:, 5], 1.0 + (b_hi - 1.0) * u[:, 5])
            kernels[sel] = bivariate_kernels(family, sx[sel], sy[sel], theta[sel], beta[sel], size[sel], self.grid)
        if self.sinc_prob > 0:
            use_sinc = u[:, 6] < self.sinc_prob
            if bool(use_sinc.any()):
                w_lo = torch.where(size < 13, math.pi / 3, math.pi / 5).to(dtype)
                omega = w_lo + (math.pi - w_lo) * rand((n,), generator, device, dtype)
                kernels[use_sinc] = sinc_kernels(omega[use_sinc], size[use_sinc], self.grid)
        return kernels, size

    def __repr__(self) -> str:
        fams = ", ".join(f"{k}:{p:.3g}" for k, p in zip(self.kernel_list, self.kernel_prob))
        return (
            f"MixedKernelSampler([{fams}], sigma_range={self.sigma_range}, betag_range={self.betag_range}, "
            f"betap_range={self.betap_range}, sinc_prob={self.sinc_prob:g})"
        )
