"""Tiny generated copies of the paired real sets, each in its published layout (for tests).

The images are small crops of scikit-image photographs, the degraded side a simple
distortion of the clean one (noise, bicubic x4 down-sampling, brightened streaks), so the
code paths are exercised without the real data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image


def _photo(i: int, size: int) -> np.ndarray:
    from skimage import data

    imgs = [data.astronaut(), data.chelsea(), data.coffee()]
    img = imgs[i % len(imgs)]
    top, left = 20 + 7 * i, 30 + 11 * i
    return img[top:top + size, left:left + size].copy()


def _noisy(img: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(img + rng.normal(0, 8, img.shape), 0, 255).astype(np.uint8)


def _save(path: Path, a: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a).save(path)


def make_sidd(root: Path, images: int = 2, blocks: int = 2, size: int = 32) -> Path:
    d = root / "SIDD"
    d.mkdir(parents=True, exist_ok=True)
    gt = np.stack([np.stack([_photo(i * blocks + b, size) for b in range(blocks)]) for i in range(images)])
    noisy = _noisy(gt, 0)
    scipy.io.savemat(str(d / "ValidationGtBlocksSrgb.mat"), {"ValidationGtBlocksSrgb": gt})
    scipy.io.savemat(str(d / "ValidationNoisyBlocksSrgb.mat"), {"ValidationNoisyBlocksSrgb": noisy})
    return d


def make_dnd(root: Path, images: int = 2, boxes: int = 20, size: int = 16) -> Path:
    """info.mat (v5 here; the published one is v7.3) and images_srgb/NNNN.mat with 20 boxes each."""
    d = root / "DND"
    (d / "images_srgb").mkdir(parents=True, exist_ok=True)
    bbs = np.empty((1, images), dtype=object)
    for i in range(images):
        img = _noisy(_photo(i, 5 * size), i).astype(np.float32) / 255
        scipy.io.savemat(str(d / "images_srgb" / f"{i + 1:04d}.mat"), {"InoisySRGB": img})
        bb = [[1 + size * (k // 5), 1 + size * (k % 5), size * (k // 5 + 1), size * (k % 5 + 1)] for k in range(boxes)]
        bbs[0, i] = np.array(bb, dtype=np.float64)
    scipy.io.savemat(str(d / "info.mat"), {"info": {"boundingboxes": bbs}})
    return d


def _lr(img: np.ndarray, scale: int = 4) -> np.ndarray:
    h, w = img.shape[:2]
    return np.asarray(Image.fromarray(img).resize((w // scale, h // scale), Image.BICUBIC))


def make_realsr_v3(root: Path, per_camera: int = 2, size: int = 64) -> Path:
    d = root / "RealSRV3"
    for c, cam in enumerate(("Canon", "Nikon")):
        for k in range(per_camera):
            hr = _photo(c * per_camera + k, size)
            _save(d / cam / "Test" / "4" / f"{cam}_{k + 1:03d}_HR.png", hr)
            _save(d / cam / "Test" / "4" / f"{cam}_{k + 1:03d}_LR4.png", _lr(hr))
    return d


def make_drealsr(root: Path, n: int = 3, size: int = 64) -> Path:
    d = root / "DRealSR" / "Test_x4"
    for k in range(n):
        hr = _photo(k + 3, size)
        _save(d / "test_HR" / f"DSC_{k:04d}_x1.png", hr)
        _save(d / "test_LR" / f"DSC_{k:04d}_x4.png", _lr(hr))
    return root / "DRealSR"


def _rainy(img: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = img.astype(np.float64)
    for _ in range(12):
        r, c = rng.integers(0, img.shape[0] - 8), rng.integers(0, img.shape[1])
        out[r:r + 8, c] = out[r:r + 8, c] + 0.7 * (255 - out[r:r + 8, c])
    return np.clip(out, 0, 255).astype(np.uint8)


def make_derain(root: Path, name: str, n: int = 3, size: int = 48, layout: str = "input/target") -> Path:
    """``layout``: ``"input/target"`` (MPRNet), ``"rainy/norain"``, or ``"prefix"`` (rain-NNN / norain-NNN)."""
    d = root / name
    for k in range(n):
        clean = _photo(k + 5, size)
        rain = _rainy(clean, k)
        if layout == "input/target":
            _save(d / "input" / f"{k + 1}.png", rain)
            _save(d / "target" / f"{k + 1}.png", clean)
        elif layout == "rainy/norain":
            _save(d / "rainy" / f"rain-{k + 1:03d}.png", rain)
            _save(d / "norain" / f"norain-{k + 1:03d}.png", clean)
        else:
            _save(d / f"rain-{k + 1:03d}.png", rain)
            _save(d / f"norain-{k + 1:03d}.png", clean)
    return d


def make_all(root: Path) -> Path:
    """Every paired real set, tiny, under ``root``."""
    make_sidd(root)
    make_dnd(root)
    make_realsr_v3(root)
    make_drealsr(root)
    make_derain(root, "Rain100L")
    make_derain(root, "Rain12", layout="rainy/norain")
    make_derain(root, "Rain800", layout="prefix")
    return root


def make_rain_training(root: Path, n: int = 4, size: int = 48) -> Path:
    """The three training rain datasets as ``<root>/<Name>/input`` + ``target`` (Table 4's paper protocol)."""
    for j, name in enumerate(("DID-MDN", "Rain14000", "HeavyRain")):
        for k in range(n):
            clean = _photo(3 * j + k, size)
            _save(root / name / "input" / f"{k}.png", _rainy(clean, 10 * j + k))
            _save(root / name / "target" / f"{k}.png", clean)
    return root
