"""Real JPEG compression (encode + decode with libjpeg-turbo).

The batch is quantised to 8 bits (``round(255 x)``), encoded at an integer quality (libjpeg
defaults: baseline, 4:2:0 chroma subsampling for colour images) and decoded again, through the
one codec adapter :mod:`dil_optim.augment._jpeg_codec` (torchvision's ``encode_jpeg`` /
``decode_jpeg`` by default; TorchCodec gives the same bytes). Encoding is per image by nature;
images that share a quality are handed to the codec as one list. Tensors on other devices are
compressed on the CPU and moved back.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ._jpeg_codec import jpeg_roundtrip
from .base import Degradation, ParamRange, RangeLike

__all__ = ["JPEG", "jpeg_compress"]


def jpeg_compress(x: Tensor, quality: Tensor | int) -> Tensor:
    """JPEG-compress every image of ``x`` at its own quality.

    Args:
        x: ``(N, C, H, W)`` float in ``[0, 1]`` with ``C`` in {1, 3}.
        quality: an int in ``[1, 100]``, or an ``(N,)`` tensor of them.

    Returns:
        The decoded images, same shape, dtype and device as ``x`` (values are multiples of 1/255).
    """
    n, c = x.shape[:2]
    if c not in (1, 3):
        raise ValueError(f"JPEG needs 1 or 3 channels, got shape {tuple(x.shape)}")
    if isinstance(quality, Tensor):
        q = quality.detach().to("cpu").round().long()
        if q.shape != (n,):
            raise ValueError(f"quality must be an int or a tensor of shape ({n},), got shape {tuple(q.shape)}")
    else:
        q = torch.full((n,), int(quality), dtype=torch.long)
    if bool((q < 1).any()) or bool((q > 100).any()):
        raise ValueError(f"JPEG quality must be in [1, 100], got {q.tolist()}")
    u8 = (x.detach().to("cpu", torch.float32).clamp(0, 1) * 255.0).round().to(torch.uint8)
    out = torch.empty_like(u8)
    for qv in torch.unique(q).tolist():
        idx = torch.nonzero(q == qv).flatten().tolist()
        decoded = jpeg_roundtrip([u8[i] for i in idx], int(qv))
        for i, img in zip(idx, decoded):
            out[i] = img
    return out.to(device=x.device, dtype=x.dtype) / 255.0


class JPEG(Degradation):
    """JPEG compression artifacts at a quality or a quality range.

    Args:
        quality: JPEG quality in ``[1, 100]`` (100 = best); fixed, or a ``(low, high)`` range
            drawn uniformly per sample and rounded to the nearest integer.
        name: label (default ``jpeg<quality>``).

    Input ``(N, C, H, W)`` float in ``[0, 1]`` with 1 or 3 channels; output the same shape,
    dtype and device, quantised to 8 bits.
    """

    channels = (1, 3)

    def __init__(self, quality: RangeLike, *, name: str | None = None) -> None:
        self.quality = ParamRange(quality, "quality", min_value=1.0, max_value=100.0)
        self.name = name if name is not None else f"jpeg{self.quality!r}"

    def _apply(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        q = self.quality.sample(x.shape[0], generator, x.device)
        return jpeg_compress(x, q)

    def _params_repr(self) -> str:
        return f"quality={self.quality!r}"
