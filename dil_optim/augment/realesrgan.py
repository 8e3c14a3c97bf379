"""Real-ESRGAN's degradation model (first- and second-order) as a batched degradation.

Reference: X. Wang, L. Xie, C. Dong, Y. Shan, "Real-ESRGAN: Training Real-World Blind
Super-Resolution with Pure Synthetic Data", ICCV Workshops 2021 (the DIL paper's ref [57]).
Parameter values are those of the authors' ``options/train_realesrgan_x4plus.yml``
(:data:`REALESRGAN_X4PLUS`, same key names). One stage is

    blur (random kernel, see :mod:`.kernels`) -> random resize (up / down / keep; area,
    bilinear or bicubic) -> Gaussian or Poisson noise (colour, or grey with probability
    0.4) -> JPEG (quality 30-95).

The first-order model (``order=1``, the DIL paper's "one-order distortion synthesis mode")
is one stage followed by a resize to the low-resolution size. The second-order model
(``order=2``) runs a second stage (blur with probability 0.8, resize relative to the LR
size, noise) and ends, in random order, with [resize to LR size + final sinc filter
(probability 0.8)] and JPEG. The output is clamped and rounded to 8 bits.

Batch-level and per-sample draws. As in the authors' code (``RealESRGANModel.feed_data``), a
call draws *per batch*: each stage's resize factor and interpolation mode, the final resize
mode, the noise type (Gaussian or Poisson), whether the second blur is applied and the order of
the final [resize + sinc] and JPEG steps; and *per sample*: the blur kernels, the noise level,
colour or grey noise, the JPEG quality and whether the final sinc filter is used. The whole
batch then goes through each step at once (``per_sample=False``, the default). With
``per_sample=True`` every sample draws all of its own decisions and is processed alone (more
diversity within one batch, several times slower on a CPU; this package's only behaviour
before). Both modes draw the same random numbers in the same order. Other differences from the
authors' code, kept on purpose: no shuffling through a pair pool; JPEG is real libjpeg at the
rounded quality instead of their differentiable JPEG emulation; no USM sharpening of the ground
truth (that is a training-target choice).

Output size: ``(N, C, H // scale, W // scale)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from .base import Degradation, rand, randint
from .blur import filter2d, filter2d_sized
from .jpeg import jpeg_compress
from .kernels import MixedKernelSampler, sinc_kernels
from .noise import add_gaussian_noise, add_poisson_noise
from .resize import MODES as _MODES
from .resize import resize

__all__ = ["REALESRGAN_X4PLUS", "RealESRGANDegradation", "realesrgan_confounders"]

REALESRGAN_X4PLUS: dict[str, Any] = {
    # first stage
    "kernel_list": ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso"),
    "kernel_prob": (0.45, 0.25, 0.12, 0.03, 0.12, 0.03),
    "sinc_prob": 0.1,
    "blur_sigma": (0.2, 3.0),
    "betag_range": (0.5, 4.0),
    "betap_range": (1.0, 2.0),
    "resize_prob": (0.2, 0.7, 0.1),
    "resize_range": (0.15, 1.5),
    "gaussian_noise_prob": 0.5,
    "noise_range": (1.0, 30.0),
    "poisson_scale_range": (0.05, 3.0),
    "gray_noise_prob": 0.4,
    "jpeg_range": (30.0, 95.0),
    # second stage
    "second_blur_prob": 0.8,
    "kernel_list2": ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso"),
    "kernel_prob2": (0.45, 0.25, 0.12, 0.03, 0.12, 0.03),
    "sinc_prob2": 0.1,
    "blur_sigma2": (0.2, 1.5),
    "betag_range2": (0.5, 4.0),
    "betap_range2": (1.0, 2.0),
    "resize_prob2": (0.3, 0.4, 0.3),
    "resize_range2": (0.3, 1.2),
    "gaussian_noise_prob2": 0.5,
    "noise_range2": (1.0, 25.0),
    "poisson_scale_range2": (0.05, 2.5),
    "gray_noise_prob2": 0.4,
    "jpeg_range2": (30.0, 95.0),
    "final_sinc_prob": 0.8,
}
_SIZES = tuple(range(7, 22, 2))


def _crop(kernel: Tensor, size: int) -> Tensor:
    """The centred ``size x size`` part of a ``(g, g)`` kernel (its support)."""
    lo = (kernel.shape[-1] - size) // 2
    return kernel[lo : lo + size, lo : lo + size]


def _check_config(overrides: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(overrides) - set(REALESRGAN_X4PLUS))
    if unknown:
        raise ValueError(f"unknown Real-ESRGAN option(s) {unknown}; known: {sorted(REALESRGAN_X4PLUS)}")
    cfg = dict(REALESRGAN_X4PLUS)
    cfg.update(overrides)
    for key in (
        "sinc_prob",
        "sinc_prob2",
        "gaussian_noise_prob",
        "gaussian_noise_prob2",
        "gray_noise_prob",
        "gray_noise_prob2",
        "second_blur_prob",
        "final_sinc_prob",
    ):
        if not 0.0 <= float(cfg[key]) <= 1.0:
            raise ValueError(f"{key} must be a probability in [0, 1], got {cfg[key]!r}")
    for key in ("jpeg_range", "jpeg_range2"):
        lo, hi = cfg[key]
        if not 1 <= lo <= hi <= 100:
            raise ValueError(f"{key} must be a (low, high) JPEG quality range within [1, 100], got {cfg[key]!r}")
    for key in (
        "noise_range",
        "noise_range2",
        "poisson_scale_range",
        "poisson_scale_range2",
        "resize_range",
        "resize_range2",
    ):
        lo, hi = cfg[key]
        if not 0 <= lo <= hi:
            raise ValueError(f"{key} must be a (low, high) range with 0 <= low <= high, got {cfg[key]!r}")
    for key in ("resize_prob", "resize_prob2"):
        if len(cfg[key]) != 3 or any(p < 0 for p in cfg[key]) or sum(cfg[key]) <= 0:
            raise ValueError(f"{key} must be three non-negative weights (up, down, keep), got {cfg[key]!r}")
    return cfg


class RealESRGANDegradation(Degradation):
    """Real-ESRGAN's first-order (``order=1``) or second-order (``order=2``) degradation.

    Args:
        order: 1 or 2 (see the module docstring).
        scale: super-resolution factor; the output is ``(N, C, H // scale, W // scale)``
            (``scale=1`` keeps the size, for restoration without SR).
        name: label (default ``realesrgan<order>``).
        per_sample: every sample draws its own resize factors, modes, noise type and step
            order and is processed alone (default ``False``: one draw per batch, as the
            authors' code, and batched processing; see the module docstring).
        **options: any key of :data:`REALESRGAN_X4PLUS` (the authors' config names), e.g.
            ``kernel_list``, ``kernel_prob``, ``sinc_prob``, ``gaussian_noise_prob``.

    Input ``(N, C, H, W)`` float in ``[0, 1]`` with 1 or 3 channels.
    """

    channels = (1, 3)

    def __init__(
        self, order: int = 1, scale: int = 4, *, name: str | None = None, per_sample: bool = False, **options: Any
    ) -> None:
        self.per_sample = bool(per_sample)
        if order not in (1, 2) or isinstance(order, bool):
            raise ValueError(f"order must be 1 or 2, got {order!r}")
        if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
            raise ValueError(f"scale must be a positive integer, got {scale!r}")
        self.order, self.scale = order, scale
        self.options = dict(options)
        self.cfg = _check_config(options)
        c = self.cfg
        self.kernels1 = MixedKernelSampler(
            c["kernel_list"],
            c["kernel_prob"],
            sigma_range=c["blur_sigma"],
            betag_range=c["betag_range"],
            betap_range=c["betap_range"],
            sinc_prob=c["sinc_prob"],
        )
        self.kernels2 = MixedKernelSampler(
            c["kernel_list2"],
            c["kernel_prob2"],
            sigma_range=c["blur_sigma2"],
            betag_range=c["betag_range2"],
            betap_range=c["betap_range2"],
            sinc_prob=c["sinc_prob2"],
        )
        self.name = name if name is not None else f"realesrgan{order}"

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        return height // self.scale, width // self.scale

    def _stage_draws(
        self, n: int, suffix: str, generator: torch.Generator | None, device: torch.device
    ) -> dict[str, Tensor]:
        c = self.cfg
        u = rand((n, 6), generator, device, torch.float64)
        probs = torch.tensor(c["resize_prob" + suffix], dtype=torch.float64, device=device)
        updown = torch.searchsorted(torch.cumsum(probs / probs.sum(), 0), u[:, 0].contiguous(), right=True)
        lo, hi = c["resize_range" + suffix]
        factor = torch.where(
            updown == 0,
            1 + (hi - 1) * u[:, 1],
            torch.where(updown == 1, lo + (1 - lo) * u[:, 1], torch.ones_like(u[:, 1])),
        )
        gauss = u[:, 2] < c["gaussian_noise_prob" + suffix]
        nlo, nhi = c["noise_range" + suffix]
        plo, phi = c["poisson_scale_range" + suffix]
        level = torch.where(gauss, nlo + (nhi - nlo) * u[:, 3], plo + (phi - plo) * u[:, 3])
        gray = u[:, 4] < c["gray_noise_prob" + suffix]
        jlo, jhi = c["jpeg_range" + suffix]
        quality = (jlo + (jhi - jlo) * u[:, 5]).round()
        mode = randint(len(_MODES), (n,), generator, device)
        return {"factor": factor, "gauss": gauss, "level": level, "gray": gray, "quality": quality, "mode": mode}

    @staticmethod
    def _noise(
        x: Tensor, d: dict[str, Tensor], host: dict[str, list], i: int, generator: torch.Generator | None
    ) -> Tensor:
        level = d["level"][i : i + 1]
        gray = d["gray"][i : i + 1] if host["gray"][i] else None
        if host["gauss"][i]:
            return add_gaussian_noise(x, level, gray, generator, clip=True)
        return add_poisson_noise(x, level, gray, generator, clip=True)

    @staticmethod
    def _batch_noise(x: Tensor, d: dict[str, Tensor], gauss: bool, generator: torch.Generator | None) -> Tensor:
        gray = d["gray"] if bool(d["gray"].any()) else None
        if gauss:
            return add_gaussian_noise(x, d["level"], gray, generator, clip=True)
        return add_poisson_noise(x, d["level"], gray, generator, clip=True)

    @staticmethod
    def _sinc_some(x: Tensor, sinc: Tensor, size: Tensor, use: list[bool]) -> Tensor:
        """The final sinc filter on the samples that draw it (the others keep their pixels)."""
        idx = [i for i, u in enumerate(use) if u]
        if not idx:
            return x
        if len(idx) == x.shape[0]:
            return filter2d_sized(x, sinc, size)
        sel = torch.tensor(idx, device=x.device)
        out = x.clone()
        out.index_copy_(
            0, sel, filter2d_sized(x.index_select(0, sel), sinc.index_select(0, sel), size.index_select(0, sel))
        )
        return out

    def _apply(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        n, _, h, w = x.shape
        lr_h, lr_w = self.output_size(h, w)
        if lr_h < 1 or lr_w < 1:
            raise ValueError(f"input {tuple(x.shape)} is smaller than the scale {self.scale}")
        dev = x.device
        kdtype = torch.float64 if x.dtype == torch.float64 else torch.float32
        k1, size1 = self.kernels1.sample_with_sizes(n, generator, dev, kdtype)
        d1 = self._stage_draws(n, "", generator, dev)
        final_mode = randint(len(_MODES), (n,), generator, dev)
        # per-sample decisions go to the host once (one sync per list, not one per sample)
        h1 = {k: d1[k].tolist() for k in ("factor", "mode", "gauss", "gray", "quality")}
        final_mode_h = final_mode.tolist()
        if self.order == 2:
            k2, size2 = self.kernels2.sample_with_sizes(n, generator, dev, kdtype)
            d2 = self._stage_draws(n, "2", generator, dev)
            u = rand((n, 3), generator, dev, torch.float64)
            size = torch.tensor(_SIZES, device=dev)[randint(len(_SIZES), (n,), generator, dev)]
            omega = math.pi / 3 + (math.pi - math.pi / 3) * u[:, 2].to(kdtype)
            sinc = sinc_kernels(omega, size)
            use_sinc = (u[:, 1] < self.cfg["final_sinc_prob"]).tolist()
            blur2 = (u[:, 0] < self.cfg["second_blur_prob"]).tolist()
            jpeg_last = (rand((n,), generator, dev, torch.float64) < 0.5).tolist()
            h2 = {k: d2[k].tolist() for k in ("factor", "mode", "gauss", "gray", "quality")}
            size2_h, size_h = size2.tolist(), size.tolist()
        y = filter2d_sized(x, k1, size1)
        if not self.per_sample:  # the authors' batch-level decisions: sample 0's draws, batched steps
            f = h1["factor"][0]
            y = resize(y, (int(h * f), int(w * f)), _MODES[h1["mode"][0]])
            y = self._batch_noise(y, d1, h1["gauss"][0], generator)
            y = jpeg_compress(y.clamp(0, 1), d1["quality"])
            if self.order == 1:
                y = resize(y, (lr_h, lr_w), _MODES[final_mode_h[0]])
            else:
                if blur2[0]:
                    y = filter2d_sized(y, k2, size2)
                f2 = h2["factor"][0]
                y = resize(y, (int(lr_h * f2), int(lr_w * f2)), _MODES[h2["mode"][0]])
                y = self._batch_noise(y, d2, h2["gauss"][0], generator)
                if jpeg_last[0]:
                    y = resize(y, (lr_h, lr_w), _MODES[final_mode_h[0]])
                    y = self._sinc_some(y, sinc, size, use_sinc)
                    y = jpeg_compress(y.clamp(0, 1), d2["quality"])
                else:
                    y = jpeg_compress(y.clamp(0, 1), d2["quality"])
                    y = resize(y, (lr_h, lr_w), _MODES[final_mode_h[0]])
                    y = self._sinc_some(y, sinc, size, use_sinc)
            return (y * 255.0).round().clamp(0, 255) / 255.0
        outs = []
        for i in range(n):
            yi = y[i : i + 1]
            f = h1["factor"][i]
            yi = resize(yi, (int(h * f), int(w * f)), _MODES[h1["mode"][i]])
            yi = self._noise(yi, d1, h1, i, generator)
            yi = jpeg_compress(yi.clamp(0, 1), int(h1["quality"][i]))
            if self.order == 1:
                yi = resize(yi, (lr_h, lr_w), _MODES[final_mode_h[i]])
            else:
                if blur2[i]:
                    yi = filter2d(yi, _crop(k2[i], size2_h[i]))
                f2 = h2["factor"][i]
                yi = resize(yi, (int(lr_h * f2), int(lr_w * f2)), _MODES[h2["mode"][i]])
                yi = self._noise(yi, d2, h2, i, generator)
                if jpeg_last[i]:
                    yi = resize(yi, (lr_h, lr_w), _MODES[final_mode_h[i]])
                    if use_sinc[i]:
                        yi = filter2d(yi, _crop(sinc[i], size_h[i]))
                    yi = jpeg_compress(yi.clamp(0, 1), int(h2["quality"][i]))
                else:
                    yi = jpeg_compress(yi.clamp(0, 1), int(h2["quality"][i]))
                    yi = resize(yi, (lr_h, lr_w), _MODES[final_mode_h[i]])
                    if use_sinc[i]:
                        yi = filter2d(yi, _crop(sinc[i], size_h[i]))
            outs.append(yi)
        out = torch.cat(outs, dim=0)
        return (out * 255.0).round().clamp(0, 255) / 255.0

    def _params_repr(self) -> str:
        opts = "".join(f", {k}={v!r}" for k, v in self.options.items())
        per = ", per_sample=True" if self.per_sample else ""
        return f"order={self.order}, scale={self.scale}{per}{opts}"


_ISO = ("iso", "generalized_iso", "plateau_iso")
_ANISO = ("aniso", "generalized_aniso", "plateau_aniso")


def _blur_options(kind: str, suffix: str) -> dict[str, Any]:
    base = dict(zip(REALESRGAN_X4PLUS["kernel_list"], REALESRGAN_X4PLUS["kernel_prob"]))
    table = {
        "iso": (_ISO, REALESRGAN_X4PLUS["sinc_prob" + suffix]),
        "aniso": (_ANISO, 0.0),
        "gaussian": (("iso", "aniso"), 0.0),
        "generalized": (("generalized_iso", "generalized_aniso"), 0.0),
        "plateau": (("plateau_iso", "plateau_aniso"), 0.0),
        "sinc": (("iso",), 1.0),
    }
    kinds, sinc = table[kind]
    return {
        "kernel_list" + suffix: kinds,
        "kernel_prob" + suffix: tuple(base[k] for k in kinds),
        "sinc_prob" + suffix: sinc,
    }


def realesrgan_confounders(order: int = 1, scale: int = 4, split: str = "isotropy") -> list[RealESRGANDegradation]:
    """Real-ESRGAN's model split into confounders by blur type x noise type (DIL Sec. 11.2.2).

    Args:
        order: 1 (first-order model, the paper's Table 5) or 2 (second-order, Table 7).
        scale: SR factor.
        split: how blur kernels are grouped:

            * ``"isotropy"`` (default, 4 confounders): isotropic kernels (iso, generalized_iso,
              plateau_iso and sinc, with Real-ESRGAN's relative weights) vs anisotropic
              ones (aniso, generalized_aniso, plateau_aniso), crossed with Gaussian vs
              Poisson noise. The union of the four is Real-ESRGAN's full model.
            * ``"family"`` (8 confounders): Gaussian / generalised Gaussian / plateau / sinc
              kernels, crossed with Gaussian vs Poisson noise.

    The same blur split applies to the second stage when ``order=2``; the final sinc filter
    of the second-order model is kept in every confounder. Colour vs grey noise stays
    random (probability 0.4) inside each confounder.
    """
    blurs: tuple[str, ...]
    if split == "isotropy":
        blurs = ("iso", "aniso")
    elif split == "family":
        blurs = ("gaussian", "generalized", "plateau", "sinc")
    else:
        raise ValueError(f"split must be 'isotropy' or 'family', got {split!r}")
    out = []
    for blur in blurs:
        for noise, p in (("gaussian", 1.0), ("poisson", 0.0)):
            opts: dict[str, Any] = {**_blur_options(blur, ""), "gaussian_noise_prob": p}
            if order == 2:
                opts.update(_blur_options(blur, "2"))
                opts["gaussian_noise_prob2"] = p
            out.append(RealESRGANDegradation(order, scale, name=f"realesrgan{order}_{blur}blur_{noise}noise", **opts))
    return out
