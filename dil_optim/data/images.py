"""Decoding image files into tensors, and a folder of clean images decoded once.

Everything here returns RGB: grayscale files are promoted to three equal channels (with a
logged note), an alpha channel is dropped (with a logged warning), palette and other colour
modes are converted by Pillow. EXIF orientation tags are ignored (pixels are used as stored,
as the image-restoration benchmarks do).
"""

from __future__ import annotations

import io
import logging
import os
import re
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Union, overload

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

logger = logging.getLogger(__name__)

#: File extensions (lower case) that :class:`ImageFolder` picks up.
IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")

PathLike = Union[str, "os.PathLike[str]"]

_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I")
_GRAY_MODES = ("L", "1", "LA", "La")


def natural_key(name: str) -> list[object]:
    """Sort key that orders ``img_2`` before ``img_10`` (digit runs compare as numbers)."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def _to_rgb_array(im: Image.Image, name: str) -> tuple[np.ndarray, int]:
    """Return ``(array (H, W, 3), max_value)``: uint8 with 255, or uint16-range with 65535."""
    mode = im.mode
    if mode == "RGB":
        return np.asarray(im, dtype=np.uint8), 255
    if mode in _SIXTEEN_BIT_MODES:
        arr = np.asarray(im).astype(np.int64)
        if arr.ndim != 2 or arr.min() < 0 or arr.max() > 65535:
            raise ValueError(f"{name}: unsupported {mode!r} image (expected 16-bit grayscale values in [0, 65535])")
        logger.info("%s: 16-bit grayscale image promoted to three equal channels", name)
        arr16 = arr.astype(np.uint16)
        return np.repeat(arr16[:, :, None], 3, axis=2), 65535
    if mode in _GRAY_MODES:
        if mode in ("LA", "La"):
            logger.warning("%s: alpha channel dropped", name)
        logger.info("%s: grayscale image promoted to three equal channels", name)
        gray = np.asarray(im.convert("L"), dtype=np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2), 255
    if mode in ("RGBA", "RGBa", "RGBX"):
        if mode != "RGBX":
            logger.warning("%s: alpha channel dropped", name)
        return np.asarray(im.convert("RGB"), dtype=np.uint8), 255
    if mode == "P":
        converted = im.convert("RGBA") if "transparency" in im.info else im.convert("RGB")
        if converted.mode == "RGBA":
            logger.warning("%s: palette transparency dropped", name)
        logger.info("%s: palette image converted to RGB", name)
        return np.asarray(converted.convert("RGB"), dtype=np.uint8), 255
    if mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        logger.info("%s: %s image converted to RGB by Pillow", name, mode)
        return np.asarray(im.convert("RGB"), dtype=np.uint8), 255
    raise ValueError(f"{name}: unsupported image mode {mode!r} (expected 8-bit RGB or grayscale)")


def _decode(source: PathLike | bytes, name: str) -> tuple[np.ndarray, int]:
    try:
        if isinstance(source, (bytes, bytearray)):
            with Image.open(io.BytesIO(source)) as im:
                im.load()
                return _to_rgb_array(im, name)
        with Image.open(os.fspath(source)) as im:
            im.load()
            return _to_rgb_array(im, name)
    except FileNotFoundError:
        raise FileNotFoundError(f"image file not found: {name}") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(f"cannot decode {name} as an image: {exc}") from exc


def decode_image_uint8(source: PathLike | bytes, *, name: str | None = None) -> torch.Tensor:
    """Decode a file (path or its bytes) into a ``(3, H, W)`` uint8 tensor.

    16-bit grayscale images are rounded to 8 bits (``round(v / 65535 * 255)``) with a logged note.
    ``name`` is only used in messages. Raises ``FileNotFoundError`` for a missing file and
    ``ValueError`` for data Pillow cannot decode or an unsupported mode.
    """
    if name is not None:
        label = name
    else:
        label = os.fspath(source) if not isinstance(source, (bytes, bytearray)) else "<bytes>"
    arr, vmax = _decode(source, label)
    if vmax != 255:
        logger.info("%s: 16-bit image rounded to 8 bits", label)
        arr = np.rint(arr.astype(np.float64) * (255.0 / vmax)).astype(np.uint8)
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))


def load_image(path: PathLike | bytes, *, name: str | None = None) -> torch.Tensor:
    """Load an image file as a ``(3, H, W)`` float32 tensor in ``[0, 1]``.

    8-bit files map ``v -> v / 255``; 16-bit grayscale files map ``v -> v / 65535`` (full
    precision). Accepts a path or the file's bytes. See :func:`decode_image_uint8` for errors.
    """
    label = name if name is not None else (os.fspath(path) if not isinstance(path, (bytes, bytearray)) else "<bytes>")
    arr, vmax = _decode(path, label)
    chw = np.ascontiguousarray(arr.transpose(2, 0, 1), dtype=np.float32)
    return torch.from_numpy(chw).div_(float(vmax))


def uint8_to_float(x: torch.Tensor) -> torch.Tensor:
    """``(..., H, W)`` uint8 -> float32 in ``[0, 1]`` (a new tensor)."""
    return x.to(torch.float32).div_(255.0)


def list_images(root: PathLike, *, recursive: bool = False, extensions: Sequence[str] = IMAGE_EXTENSIONS) -> list[Path]:
    """Image files under ``root`` (by extension, case-insensitive), in natural name order."""
    base = Path(root)
    if not base.is_dir():
        raise FileNotFoundError(f"image folder not found (or not a directory): {base}")
    exts = {e.lower() if e.startswith(".") else "." + e.lower() for e in extensions}
    candidates = base.rglob("*") if recursive else base.iterdir()
    files = [p for p in candidates if p.is_file() and p.suffix.lower() in exts and not p.name.startswith(".")]
    return sorted(files, key=lambda p: natural_key(p.relative_to(base).as_posix()))


class ImageFolder(Sequence[tuple[str, torch.Tensor]]):
    """All images in a folder, decoded once into memory as uint8.

    ``folder[i]`` is ``(name, (3, H, W) float32 tensor in [0, 1])`` (a fresh tensor each time;
    ``name`` is the path relative to ``root``, with ``/``). ``folder.uint8(i)`` gives the stored
    ``(3, H, W)`` uint8 tensor without a copy (do not modify it). Images keep their own sizes.

    Args:
        root: folder holding PNG, JPEG, BMP or TIFF files (see ``IMAGE_EXTENSIONS``).
        recursive: also take images from sub-folders.
        extensions: file extensions to accept.
        num_workers: decoding threads (Pillow releases the GIL while decoding);
            default ``min(8, os.cpu_count())``.

    Raises ``FileNotFoundError`` if ``root`` is missing or holds no image, ``ValueError`` if a
    file cannot be decoded (naming it).
    """

    def __init__(
        self,
        root: PathLike,
        *,
        recursive: bool = False,
        extensions: Sequence[str] = IMAGE_EXTENSIONS,
        num_workers: int | None = None,
    ) -> None:
        self.root = Path(root)
        self.paths: list[Path] = list_images(self.root, recursive=recursive, extensions=extensions)
        if not self.paths:
            raise FileNotFoundError(
                f"no images with extensions {sorted(set(e.lower() for e in extensions))} in {self.root}"
            )
        self.names: list[str] = [p.relative_to(self.root).as_posix() for p in self.paths]
        workers = num_workers if num_workers is not None else min(8, os.cpu_count() or 1)
        if workers < 1:
            raise ValueError(f"num_workers must be >= 1, got {workers}")
        if workers == 1 or len(self.paths) == 1:
            self._images = [decode_image_uint8(p) for p in self.paths]
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                self._images = list(pool.map(decode_image_uint8, self.paths))
        logger.debug("decoded %d images from %s", len(self._images), self.root)

    def __len__(self) -> int:
        return len(self._images)

    @overload
    def __getitem__(self, index: int) -> tuple[str, torch.Tensor]: ...

    @overload
    def __getitem__(self, index: slice) -> list[tuple[str, torch.Tensor]]: ...

    def __getitem__(self, index: int | slice) -> tuple[str, torch.Tensor] | list[tuple[str, torch.Tensor]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return self.names[index], uint8_to_float(self._images[index])

    def __iter__(self) -> Iterator[tuple[str, torch.Tensor]]:
        for i in range(len(self)):
            yield self[i]

    def uint8(self, index: int) -> torch.Tensor:
        """The stored ``(3, H, W)`` uint8 image (shared, not copied: treat it as read-only)."""
        return self._images[index]

    @property
    def nbytes(self) -> int:
        """Memory held by the decoded images, in bytes."""
        return sum(t.numel() for t in self._images)

    def __repr__(self) -> str:
        return f"ImageFolder(root={str(self.root)!r}, images={len(self)}, nbytes={self.nbytes})"
