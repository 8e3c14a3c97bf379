"""Padding helpers shared by the backbones (pad to a multiple, crop back)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["check_image_batch", "pad_to_multiple"]


def pad_to_multiple(x: Tensor, multiple: int) -> Tensor:
    """Pad the bottom and right of ``x`` so that H and W are multiples of ``multiple``.

    ``x`` is ``(N, C, H, W)``. Reflection padding is used (the convention of the SwinIR test
    code); where the image is too small to reflect (pad >= size), edge replication is used
    instead. Returns ``x`` itself when no padding is needed; never modifies ``x``.
    """
    if multiple < 1:
        raise ValueError(f"multiple must be >= 1, got {multiple}")
    h, w = x.shape[-2], x.shape[-1]
    pad_h = (-h) % multiple
    pad_w = (-w) % multiple
    if pad_h == 0 and pad_w == 0:
        return x
    mode = "reflect" if (pad_h < h and pad_w < w) else "replicate"
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)


def check_image_batch(x: object, channels: int, name: str) -> None:
    """Raise a clear error unless ``x`` is a floating ``(N, channels, H, W)`` tensor."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} expects a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 4:
        raise ValueError(f"{name} expects a (N, C, H, W) tensor, got shape {tuple(x.shape)}")
    if x.shape[1] != channels:
        raise ValueError(f"{name} expects {channels} input channels, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} expects a floating-point tensor, got dtype {x.dtype}")
    if x.shape[-2] < 1 or x.shape[-1] < 1:
        raise ValueError(f"{name} got an empty image, shape {tuple(x.shape)}")
