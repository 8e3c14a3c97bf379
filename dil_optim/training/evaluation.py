"""Evaluation data and scoring shared by the reproduction tables.

Test sets are found under a data root (absent ones are skipped; the built-in test photographs
stand in when none is found), optionally cut to their first K images and centre crops, and
scored with :mod:`dil_optim.metrics` (RGB or its Y channel, 8-bit). The distortion of each (set, image, level)
is drawn from a CPU generator seeded from those names alone, so every method, seed and
device sees identical degraded test images.
"""

from __future__ import annotations

import itertools
import logging
import zlib
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ..augment import HYBRID_LEVELS, GaussianBlur, GaussianNoise, HybridDistortion
from ..data import ImageFolder, TestSet, TestSetError, builtin_images
from ..metrics import psnr, ssim

logger = logging.getLogger(__name__)

__all__ = ["DEGRADATIONS", "HYBRID_CODES", "Evaluator", "centre_crop", "hybrid_level", "load_test_sets",
           "split_train_val", "train_images"]

#: the hybrid levels as the numbers a table's levels are: ``100 * low + high`` of their range of level sums
HYBRID_CODES: dict[str, int] = {name: 100 * lo + hi for name, (lo, hi) in HYBRID_LEVELS.items()}


def hybrid_level(code: float) -> HybridDistortion:
    """The hybrid distortion (blur, noise, JPEG) a numeric level stands for.

    ``code >= 100``: the level sums ``code // 100`` to ``code % 100`` (``911`` mild, ``1217``
    moderate, ``1820`` severe: :data:`HYBRID_CODES`); below 100: that one level sum (the
    paper's "multiple levels of severe" training confounders are 18, 19 and 20).
    """
    c = int(code)
    if c != code:
        raise ValueError(f"a hybrid level is an integer code, got {code}")
    names = {v: k for k, v in HYBRID_CODES.items()}
    if c >= 100:
        return HybridDistortion((c // 100, c % 100), name=f"hybrid_{names.get(c, c)}")
    return HybridDistortion(c, name=f"hybrid_sum{c}")


#: distortion families the tables use, by the ``kind`` of a TableSpec: level -> degradation
DEGRADATIONS = {"awgn": GaussianNoise, "blur": GaussianBlur, "hybrid": hybrid_level}

TestSets = list[tuple[str, list[tuple[str, torch.Tensor]], dict[str, Any]]]


def train_images(train_root: str | None) -> list[tuple[str, torch.Tensor]] | ImageFolder:
    """The clean training images: every image under ``train_root``, else the built-in set."""
    if train_root is None:
        return builtin_images("train")
    return ImageFolder(train_root, recursive=True)


def split_train_val(images: Sequence[tuple[str, torch.Tensor]], val_images: int, crop: int | None
                    ) -> tuple[list[tuple[str, torch.Tensor]], list[tuple[str, torch.Tensor]]]:
    """Hold ``val_images`` of the training images out for validation: ``(train, val)``.

    The held-out images are evenly spaced through ``images`` (in their order, by name for a
    folder), so the split is fixed by the folder alone. ``val`` images are cut to their centre
    ``crop`` x ``crop``. Model choices (lr, checkpoints) are made on ``val`` at the *seen*
    levels only, never on a test set or an unseen level.
    """
    n = len(images)
    if val_images < 0 or (val_images and val_images >= n):
        raise ValueError(f"val_images must be in [0, {n - 1}] for {n} training images, got {val_images}")
    if not val_images:
        return images, []  # type: ignore[return-value]
    held = {min(n - 1, int((i + 0.5) * n / val_images)) for i in range(val_images)}
    # a folder's images stay 8-bit (the patch sampler shares them); the others are float already
    item = ((lambda i: (images.names[i], images.uint8(i))) if isinstance(images, ImageFolder)
            else (lambda i: images[i]))
    train = [item(i) for i in range(n) if i not in held]
    val = [(images[i][0], centre_crop(images[i][1], crop).contiguous()) for i in sorted(held)]
    return train, val


def centre_crop(x: torch.Tensor, size: int | None) -> torch.Tensor:
    """The centre ``size`` x ``size`` of a ``(C, H, W)`` image (the whole side where smaller)."""
    if size is None:
        return x
    h, w = x.shape[-2:]
    top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return x[..., top:top + size, left:left + size]


def load_test_sets(names: tuple[str, ...], data_root: str | None, images: int | None, crop: int | None
                   ) -> tuple[TestSets, list[str]]:
    """``([(set name, [(file, (3, H, W) image)], info)], absent)``; the built-in test photos when
    none of ``names`` is found. ``info`` says how many files the set has and whether it is a
    subset (a partial copy on disk, or the first ``images`` of it)."""
    found, absent = [], []
    for name in names:
        try:
            ts = TestSet(name, data_root, allow_subset=True)
        except TestSetError as exc:  # absent, incomplete or failing its checksums: say which
            logger.debug("test set %s skipped: %s", name, exc)
            absent.append(name)
            continue
        found.append(ts)
    if not found:
        found = [TestSet("builtin")]
    sets = []
    for ts in found:
        files = list(itertools.islice(ts, images)) if images else list(ts)
        expected = ts.spec.count if ts.spec is not None else len(files)
        info = {"files": len(files), "expected": expected, "crop": crop,
                "subset": bool(getattr(ts, "is_subset", False)) or len(files) < expected}
        sets.append((ts.name, [(f, centre_crop(img, crop).contiguous()) for f, img in files], info))
    return sets, absent


def _noise_seed(dataset: str, file: str, level: float) -> int:
    return zlib.crc32(f"{dataset}/{file}/{level:g}".encode())


class Evaluator:
    """PSNR/SSIM (RGB, or its Y channel with ``channel="y"``; 8-bit, no border crop) of a model
    on fixed degraded test images.

    The distortion of each (set, image, level) is drawn from a CPU generator seeded from their
    names only, so every method, seed and device sees the same degraded inputs (noise, blur,
    the hybrid's blur/noise/JPEG parameters)."""

    def __init__(self, sets: TestSets, kind: str,
                 levels: tuple[float, ...], device: str, channel: str = "rgb") -> None:
        if channel not in ("rgb", "y"):
            raise ValueError(f"channel must be 'rgb' or 'y', got {channel!r}")
        self.sets, self.levels, self.device = sets, levels, torch.device(device)
        self.kind, self.channel = kind, channel

    def _noisy(self, dataset: str, file: str, clean: torch.Tensor, level: float) -> torch.Tensor:
        g = torch.Generator().manual_seed(_noise_seed(dataset, file, level))
        return DEGRADATIONS[self.kind](level)(clean[None], generator=g)

    def degraded(self, dataset: str, file: str, clean: torch.Tensor, level: float) -> torch.Tensor:
        """The ``(1, C, H, W)`` degraded input this evaluator scores for ``(dataset, file, level)``."""
        return self._noisy(dataset, file, clean, level)

    @torch.no_grad()
    def __call__(self, model: nn.Module | None) -> list[dict[str, Any]]:
        """One row per (set, level): mean PSNR/SSIM and the per-image values. ``model=None``
        scores the noisy inputs themselves."""
        was_training = model.training if model is not None else False
        if model is not None:
            model.eval()
        rows = []
        try:
            for dataset, images, _ in self.sets:
                for level in self.levels:
                    ps, ss = [], []
                    for file, clean in images:
                        noisy = self._noisy(dataset, file, clean, level).to(self.device)
                        out = noisy if model is None else model(noisy).clamp_(0, 1)
                        target = clean[None].to(self.device)
                        y = self.channel == "y"
                        ps.append(float(psnr(out, target, y_channel=y)[0]))
                        ss.append(float(ssim(out, target, y_channel=y)[0]))
                    rows.append({"dataset": dataset, "level": level, "psnr": sum(ps) / len(ps),
                                 "ssim": sum(ss) / len(ss), "psnr_per_image": ps, "ssim_per_image": ss})
        finally:
            if model is not None:
                model.train(was_training)
        return rows
