"""Resizing for the super-resolution degradations: plain integer downsampling
(:class:`Downsample`) and the resize step of the Real-ESRGAN pipeline (:func:`resize`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import Degradation

__all__ = ["MODES", "Downsample", "resize"]

#: interpolation modes of the resize steps
MODES = ("area", "bilinear", "bicubic")


def resize(x: Tensor, size: tuple[int, int], mode: str) -> Tensor:
    """``x`` ``(N, C, H, W)`` resized to ``size`` (each side at least 1) by ``mode`` (:data:`MODES`),
    without antialiasing, as the Real-ESRGAN pipeline does; returned as is when already that size."""
    size = (max(1, size[0]), max(1, size[1]))
    if tuple(x.shape[-2:]) == size:
        return x
    if mode == "area":
        return F.interpolate(x, size=size, mode="area")
    return F.interpolate(x, size=size, mode=mode, align_corners=False)


class Downsample(Degradation):
    """Plain downsampling by an integer factor: output ``(N, C, H // scale, W // scale)``.

    Args:
        scale: integer factor (>= 1).
        mode: ``"bicubic"`` (default), ``"bilinear"`` or ``"area"``.
        antialias: low-pass before bilinear / bicubic downsampling (as MATLAB's ``imresize``).
    """

    def __init__(
        self, scale: int = 4, mode: str = "bicubic", *, antialias: bool = True, name: str | None = None
    ) -> None:
        if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
            raise ValueError(f"scale must be a positive integer, got {scale!r}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.scale, self.mode, self.antialias = scale, mode, bool(antialias)
        self.name = name if name is not None else f"{mode}_x{scale}"

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        return height // self.scale, width // self.scale

    def _apply(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        h, w = self.output_size(*x.shape[-2:])
        if h < 1 or w < 1:
            raise ValueError(f"input {tuple(x.shape)} is smaller than the scale {self.scale}")
        if self.mode == "area" or self.scale == 1:
            return resize(x, (h, w), self.mode)
        return F.interpolate(x, size=(h, w), mode=self.mode, align_corners=False, antialias=self.antialias).clamp(0, 1)

    def _params_repr(self) -> str:
        return f"scale={self.scale}, mode={self.mode!r}, antialias={self.antialias}"
