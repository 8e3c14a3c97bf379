"""Counterfactual distortion augmentation: the DIL paper's distortion families as batched torch ops.

Every degradation is a small callable ``deg(x, generator=None) -> Tensor`` on a batch
``(N, C, H, W)`` of floats in ``[0, 1]``, on any device; it never modifies ``x``.
:class:`ConfounderSet` turns a clean batch into the ``(degraded_i, clean)`` pairs that
:meth:`dil_optim.DILWrapper.step` takes; :func:`paper_confounders` builds the paper's sets.
See ``docs/augment.md``.
"""

from __future__ import annotations

from .base import Compose, Degradation, ParamRange
from .blur import AnisotropicGaussianBlur, GaussianBlur, filter2d, gaussian_kernel1d, gaussian_kernel2d
from .confounders import PAPER_TASKS, ConfounderSet, folder_confounders, paper_confounders
from .dataset import PairedFolder
from .hybrid import HYBRID_LEVELS, HybridDistortion
from .isp import CFA_PATTERNS, CameraNoise, cfa_masks, demosaic_bilinear, mosaic
from .jpeg import JPEG, jpeg_compress
from .kernels import KERNEL_TYPES, MixedKernelSampler, bessel_j1, bivariate_kernels, sinc_kernels
from .noise import GaussianNoise, PoissonNoise
from .rain import RAIN_STYLES, TRAIN_RAIN_STYLES, UNSEEN_RAIN_STYLE, RainStreaks, rain_style
from .realesrgan import REALESRGAN_X4PLUS, RealESRGANDegradation, realesrgan_confounders
from .resize import Downsample

__all__ = [
    "AnisotropicGaussianBlur",
    "CFA_PATTERNS",
    "CameraNoise",
    "Compose",
    "ConfounderSet",
    "Degradation",
    "Downsample",
    "GaussianBlur",
    "GaussianNoise",
    "HYBRID_LEVELS",
    "HybridDistortion",
    "JPEG",
    "KERNEL_TYPES",
    "MixedKernelSampler",
    "PAPER_TASKS",
    "PairedFolder",
    "ParamRange",
    "PoissonNoise",
    "RAIN_STYLES",
    "RainStreaks",
    "REALESRGAN_X4PLUS",
    "TRAIN_RAIN_STYLES",
    "UNSEEN_RAIN_STYLE",
    "RealESRGANDegradation",
    "bessel_j1",
    "bivariate_kernels",
    "cfa_masks",
    "demosaic_bilinear",
    "filter2d",
    "folder_confounders",
    "gaussian_kernel1d",
    "gaussian_kernel2d",
    "jpeg_compress",
    "mosaic",
    "paper_confounders",
    "rain_style",
    "realesrgan_confounders",
    "sinc_kernels",
]
