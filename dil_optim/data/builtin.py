"""The built-in default images: colour photographs that scikit-image ships inside its wheel.

No download is needed, so the quick profile runs on a fresh machine without ``--data-root``.
The nine colour photographs are split into two disjoint parts (fixed, documented in
``docs/data.md``):

- ``"test"``: astronaut, chelsea, coffee (natural photographs, 0.66 Mpixel in all). A model
  trained on the ``"train"`` split is evaluated on images it never saw.
- ``"train"``: rocket, motorcycle_left, motorcycle_right, hubble_deep_field,
  immunohistochemistry, retina. The two motorcycle views (a stereo pair, nearly the same
  content) are both on the training side so no near-duplicate crosses the split.
"""

from __future__ import annotations

import functools
import logging
from typing import Literal

import numpy as np
import torch

from .images import uint8_to_float

logger = logging.getLogger(__name__)

#: Names of the built-in training photographs (``builtin_images("train")``).
BUILTIN_TRAIN: tuple[str, ...] = (
    "rocket",
    "motorcycle_left",
    "motorcycle_right",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
)
#: Names of the built-in test photographs (``builtin_images("test")``, ``TestSet("builtin")``).
BUILTIN_TEST: tuple[str, ...] = ("astronaut", "chelsea", "coffee")

Split = Literal["train", "test", "all"]


def _import_skimage_data():  # -> the skimage.data module
    try:
        import skimage.data as skdata
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the built-in images come with scikit-image, which is not installed: "
            "pip install 'dil-optim[bench]' (or scikit-image), or pass a data root with your own images"
        ) from exc
    return skdata


@functools.cache
def _load_uint8(name: str) -> torch.Tensor:
    skdata = _import_skimage_data()
    if name in ("motorcycle_left", "motorcycle_right"):
        left, right, _ = skdata.stereo_motorcycle()
        arr = left if name == "motorcycle_left" else right
    else:
        arr = getattr(skdata, name)()
    arr = np.asarray(arr)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"scikit-image image {name!r} is not 8-bit RGB (shape {arr.shape}, dtype {arr.dtype})")
    t = torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1).contiguous()
    t.requires_grad_(False)
    return t


def builtin_names(split: Split = "train") -> tuple[str, ...]:
    """Names of the built-in photographs in ``split`` ("train", "test" or "all")."""
    if split == "train":
        return BUILTIN_TRAIN
    if split == "test":
        return BUILTIN_TEST
    if split == "all":
        return BUILTIN_TRAIN + BUILTIN_TEST
    raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")


def builtin_images_uint8(split: Split = "train") -> list[tuple[str, torch.Tensor]]:
    """Like :func:`builtin_images` but ``(3, H, W)`` uint8 tensors (decoded once per process,
    shared between calls: treat them as read-only)."""
    return [(n, _load_uint8(n)) for n in builtin_names(split)]


def builtin_images(split: Split = "train") -> list[tuple[str, torch.Tensor]]:
    """scikit-image's colour photographs as ``(name, (3, H, W) float32 tensor in [0, 1])``.

    ``split="train"`` (the default, so a training loop never sees the test photos by accident),
    ``"test"`` or ``"all"`` (train then test). Sizes vary from 300x451 to 1411x1411. Each call
    returns new tensors. Needs scikit-image (``ImportError`` with the install hint otherwise).
    """
    return [(n, uint8_to_float(t)) for n, t in builtin_images_uint8(split)]
