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
import torch.nn.functional as F
from torch import nn

from ..augment import (
    CFA_PATTERNS,
    HYBRID_LEVELS,
    TRAIN_RAIN_STYLES,
    UNSEEN_RAIN_STYLE,
    CameraNoise,
    Compose,
    Downsample,
    GaussianBlur,
    GaussianNoise,
    HybridDistortion,
    RealESRGANDegradation,
    rain_style,
    realesrgan_confounders,
)
from ..data import ImageFolder, TestSet, TestSetError, builtin_images
from ..data.realsets import is_paired, load_paired_set
from ..metrics import psnr, ssim

logger = logging.getLogger(__name__)

__all__ = [
    "DEGRADATIONS",
    "HYBRID_CODES",
    "REAL_LEVEL",
    "Evaluator",
    "centre_crop",
    "hybrid_level",
    "load_test_sets",
    "realdenoise_level",
    "derain_level",
    "realsr_level",
    "split_train_val",
    "train_images",
]

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


#: the level code of a paired real set's own degraded inputs (Tables 4, 5, 7: "real")
REAL_LEVEL = 0.0


def _real(kind: str) -> ValueError:
    return ValueError(f"level 0 ('real') of {kind} is a real set's own degraded images, not a synthesis")


def realdenoise_level(code: float) -> Any:
    """Table 4 (a): ``1..4`` camera-pipeline noise through the CFA patterns RGGB, BGGR, GRBG, GBRG
    (the training confounders); ``9`` the stand-in: the same pipeline *without* a colour filter
    array and with white-balance gains in [0.5, 0.7] (training: [0.75, 1]), named ``isp_nocfa_gains``."""
    c = int(code)
    if c == 0:
        raise _real("realdenoise")
    if 1 <= c <= 4:
        return CameraNoise(CFA_PATTERNS[c - 1])
    if c == 9:
        return CameraNoise(None, wb_range=(0.5, 0.7), name="isp_nocfa_gains")
    raise ValueError(f"realdenoise level must be 1-4 (CFA) or 9 (stand-in), got {code}")


def derain_level(code: float) -> Any:
    """Table 4 (b): ``1..3`` the rain-streak styles drizzle, streaks, heavy (the synthetic stand-in
    of the three training rain datasets); ``9`` the unseen style storm (outside all their ranges)."""
    c = int(code)
    if c == 0:
        raise _real("derain")
    if 1 <= c <= len(TRAIN_RAIN_STYLES):
        return rain_style(TRAIN_RAIN_STYLES[c - 1])
    if c == 9:
        return rain_style(UNSEEN_RAIN_STYLE)
    raise ValueError(f"derain level must be 1-3 (styles) or 9 (stand-in), got {code}")


def realsr_level(code: float) -> Any:
    """Tables 5 and 7 (x4): ``1..4`` Real-ESRGAN's first-order confounders (isotropic / anisotropic
    blur x Gaussian / Poisson noise), ``11..14`` the same split of the second-order model; the
    stand-ins ``8``: bicubic x4 down-sampling then camera-pipeline noise (``isp_noise_x4``), ``9``:
    Real-ESRGAN's full second-order model (unseen for D1 training, inside D2's)."""
    c = int(code)
    if c == 0:
        raise _real("realsr")
    if 1 <= c <= 4:
        return realesrgan_confounders(1, 4)[c - 1]
    if 11 <= c <= 14:
        return realesrgan_confounders(2, 4)[c - 11]
    if c == 8:
        return Compose([Downsample(4, "bicubic"), CameraNoise("RGGB")], name="isp_noise_x4")
    if c == 9:
        return RealESRGANDegradation(2, 4, name="realesrgan_second_order")
    raise ValueError(f"realsr level must be 1-4, 11-14 (confounders), 8 or 9 (stand-ins), got {code}")


#: distortion families the tables use, by the ``kind`` of a TableSpec: level -> degradation
DEGRADATIONS = {
    "awgn": GaussianNoise,
    "blur": GaussianBlur,
    "hybrid": hybrid_level,
    "realdenoise": realdenoise_level,
    "derain": derain_level,
    "realsr": realsr_level,
}

TestSets = list[tuple[str, list[tuple[str, torch.Tensor]], dict[str, Any]]]

#: kinds whose level ``REAL_LEVEL`` means a paired set's own degraded inputs
_REAL_KINDS = ("realdenoise", "derain", "realsr")


def train_images(train_root: str | None) -> list[tuple[str, torch.Tensor]] | ImageFolder:
    """The clean training images: every image under ``train_root``, else the built-in set."""
    if train_root is None:
        return builtin_images("train")
    return ImageFolder(train_root, recursive=True)


def split_train_val(
    images: Sequence[tuple[str, torch.Tensor]], val_images: int, crop: int | None
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
    item = (lambda i: (images.names[i], images.uint8(i))) if isinstance(images, ImageFolder) else (lambda i: images[i])
    train = [item(i) for i in range(n) if i not in held]
    val = [(images[i][0], centre_crop(images[i][1], crop).contiguous()) for i in sorted(held)]
    return train, val


def centre_crop(x: torch.Tensor, size: int | None) -> torch.Tensor:
    """The centre ``size`` x ``size`` of a ``(C, H, W)`` image (the whole side where smaller)."""
    if size is None:
        return x
    h, w = x.shape[-2:]
    top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return x[..., top : top + size, left : left + size]


def load_test_sets(
    names: tuple[str, ...], data_root: str | None, images: int | None, crop: int | None
) -> tuple[TestSets, list[str]]:
    """``([(set name, [(file, (3, H, W) image)], info)], absent)``; the built-in test photos when
    none of ``names`` is found. ``info`` says how many files the set has and whether it is a
    subset (a partial copy on disk, or the first ``images`` of it)."""
    found, absent = [], []
    paired: dict[str, Any] = {}
    for name in names:
        try:
            if is_paired(name):
                paired[name] = load_paired_set(name, data_root, images)
                found.append(paired[name])
                continue
            ts = TestSet(name, data_root, allow_subset=True)
        except TestSetError as exc:  # absent, incomplete or failing its checksums: say which
            logger.debug("test set %s skipped: %s", name, exc)
            absent.append(name)
            continue
        found.append(ts)
    if not found:
        found = [TestSet("builtin")]
    sets: TestSets = []
    for ts in found:
        if ts.name in paired:
            sets.append(_paired_entry(paired[ts.name], crop))
            continue
        files = list(itertools.islice(ts, images)) if images else list(ts)
        expected = ts.spec.count if ts.spec is not None else len(files)
        info = {
            "files": len(files),
            "expected": expected,
            "crop": crop,
            "subset": bool(getattr(ts, "is_subset", False)) or len(files) < expected,
        }
        sets.append((ts.name, [(f, centre_crop(img, crop).contiguous()) for f, img in files], info))
    return sets, absent


def _paired_entry(ps: Any, crop: int | None) -> tuple[str, list[tuple[str, torch.Tensor]], dict[str, Any]]:
    """A paired real set as a test-set entry: the clean images (DND: the noisy ones, flagged
    ``no_ground_truth``) with the degraded inputs in ``info["degraded"]``; a centre crop of
    ``crop`` clean pixels takes the aligned ``crop // scale`` degraded ones."""
    s = ps.scale
    images, degraded = [], {}
    for file, deg, clean in ps.items:
        if crop is not None and clean is not None:  # DND's crops stay whole: its benchmark takes 512x512
            lc = max(1, crop // s)
            h, w = deg.shape[-2:]
            top, left = max(0, (h - lc) // 2), max(0, (w - lc) // 2)
            deg = deg[..., top : top + lc, left : left + lc]
            if clean is not None:
                clean = clean[..., s * top : s * (top + deg.shape[-2]), s * left : s * (left + deg.shape[-1])]
        degraded[file] = deg.contiguous()
        images.append((file, (deg if clean is None else clean).contiguous()))
    info = {
        "files": len(images),
        "expected": ps.expected,
        "crop": crop,
        "subset": ps.subset,
        "degraded": degraded,
        "scale": s,
        "no_ground_truth": any(c is None for _, _, c in ps.items),
        "where": ps.meta.get("where"),
        "root": str(ps.root),
    }
    return ps.name, images, info


def _noise_seed(dataset: str, file: str, level: float) -> int:
    return zlib.crc32(f"{dataset}/{file}/{level:g}".encode())


class Evaluator:
    """PSNR/SSIM (RGB, or its Y channel with ``channel="y"``; 8-bit, no border crop) of a model
    on fixed degraded test images.

    The distortion of each (set, image, level) is drawn from a CPU generator seeded from their
    names only, so every method, seed and device sees the same degraded inputs (noise, blur,
    the hybrid's blur/noise/JPEG parameters)."""

    def __init__(self, sets: TestSets, kind: str, levels: tuple[float, ...], device: str, channel: str = "rgb") -> None:
        if channel not in ("rgb", "y"):
            raise ValueError(f"channel must be 'rgb' or 'y', got {channel!r}")
        self.sets, self.levels, self.device = sets, levels, torch.device(device)
        self.kind, self.channel = kind, channel
        self._info = {name: info for name, _, info in sets}
        self._deg: dict[tuple[str, float], Any] = {}

    def _noisy(self, dataset: str, file: str, clean: torch.Tensor, level: float) -> torch.Tensor:
        if level == REAL_LEVEL and self.kind in _REAL_KINDS:  # the set's own degraded input
            return self._info[dataset]["degraded"][file][None]
        g = torch.Generator().manual_seed(_noise_seed(dataset, file, level))
        if (dataset, level) not in self._deg:
            family: Any = DEGRADATIONS[self.kind]  # level -> degradation
            self._deg[(dataset, level)] = family(level)
        return self._deg[(dataset, level)](clean[None], generator=g)

    def scored(self, dataset: str, level: float) -> bool:
        """Whether ``(dataset, level)`` is scored: a set with ground truth, and the real level
        only on a paired set (its own degraded inputs)."""
        info = self._info.get(dataset, {})
        if info.get("no_ground_truth"):
            return False
        return not (level == REAL_LEVEL and self.kind in _REAL_KINDS and "degraded" not in info)

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
                    if not self.scored(dataset, level):
                        continue
                    ps, ss = [], []
                    for file, clean in images:
                        noisy = self._noisy(dataset, file, clean, level).to(self.device)
                        out = noisy if model is None else model(noisy).clamp_(0, 1)
                        target = clean[None].to(self.device)
                        if out.shape[-2:] != target.shape[-2:]:  # SR input itself: bicubic up to the target size
                            out = F.interpolate(
                                out, size=target.shape[-2:], mode="bicubic", align_corners=False
                            ).clamp_(0, 1)
                        y = self.channel == "y"
                        ps.append(float(psnr(out, target, y_channel=y)[0]))
                        ss.append(float(ssim(out, target, y_channel=y)[0]))
                    rows.append(
                        {
                            "dataset": dataset,
                            "level": level,
                            "psnr": sum(ps) / len(ps),
                            "ssim": sum(ss) / len(ss),
                            "psnr_per_image": ps,
                            "ssim_per_image": ss,
                        }
                    )
        finally:
            if model is not None:
                model.train(was_training)
        return rows
