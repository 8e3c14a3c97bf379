"""The one place that calls a JPEG codec: encode + decode a list of uint8 images.

Backends, byte-identical on the same images (both wrap libjpeg-turbo with libjpeg's defaults:
baseline, 4:2:0 chroma subsampling for colour):

- ``"torchvision"`` (default): ``torchvision.io.encode_jpeg`` / ``decode_jpeg``. torchvision 0.29
  deprecates its codecs in favour of TorchCodec; the deprecation warning is silenced here.
- ``"torchcodec"``: ``torchcodec.encoders.JpegEncoder`` / ``torchcodec.decoders.decode_jpeg``,
  used when torchvision no longer has its codecs, or when ``$DIL_OPTIM_JPEG_CODEC=torchcodec``.

Why torchvision stays the default (docs/augment.md, "JPEG codec"): TorchCodec gives the same bytes
at the same speed, but each release supports exactly one torch minor version, so depending on it
would pin torch, while torchvision is already a dependency.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable

from torch import Tensor

__all__ = ["CODECS", "jpeg_roundtrip", "codec_name"]

CODECS = ("torchvision", "torchcodec")

Roundtrip = Callable[[list[Tensor], int], list[Tensor]]


def _torchvision() -> Roundtrip | None:
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            from torchvision.io import decode_jpeg, encode_jpeg
    except ImportError:
        return None

    def roundtrip(images: list[Tensor], quality: int) -> list[Tensor]:
        with warnings.catch_warnings():
            # torchvision 0.29 announces a move of its codecs to TorchCodec; the API still works
            warnings.filterwarnings("ignore", category=DeprecationWarning, module="torchvision")
            encoded = encode_jpeg(images, quality=quality)
            return list(decode_jpeg(encoded))

    return roundtrip


def _torchcodec() -> Roundtrip | None:
    try:
        from torchcodec.decoders import decode_jpeg
        from torchcodec.encoders import JpegEncoder
    except (ImportError, RuntimeError, OSError):  # absent, or built for another torch version
        return None

    def roundtrip(images: list[Tensor], quality: int) -> list[Tensor]:
        out = []
        for img in images:
            encoded = JpegEncoder(img).to_tensor(quality=quality)
            out.append(decode_jpeg(encoded, mode="RGB" if img.shape[0] == 3 else "GRAY"))
        return out

    return roundtrip


_chosen: tuple[str, Roundtrip] | None = None


def _choose() -> tuple[str, Roundtrip]:
    global _chosen
    if _chosen is None:
        wanted = os.environ.get("DIL_OPTIM_JPEG_CODEC", "").strip().lower() or None
        if wanted is not None and wanted not in CODECS:
            raise ValueError(f"$DIL_OPTIM_JPEG_CODEC = {wanted!r}; use one of {', '.join(CODECS)} or leave it unset")
        order = [wanted] if wanted else list(CODECS)
        loaders = {"torchvision": _torchvision, "torchcodec": _torchcodec}
        for name in order:
            fn = loaders[name]()
            if fn is not None:
                _chosen = (name, fn)
                break
        else:
            raise ImportError(
                f"no JPEG codec available (tried {', '.join(order)}); pip install torchvision (or torchcodec)"
            )
    return _chosen


def codec_name() -> str:
    """The backend in use: ``"torchvision"`` or ``"torchcodec"``."""
    return _choose()[0]


def jpeg_roundtrip(images: list[Tensor], quality: int) -> list[Tensor]:
    """Encode each ``(C, H, W)`` uint8 CPU image (C in {1, 3}) as JPEG at ``quality`` (1..100) and
    decode it again; returns the decoded ``(C, H, W)`` uint8 images in the same order."""
    return _choose()[1]([img.contiguous() for img in images], int(quality))
