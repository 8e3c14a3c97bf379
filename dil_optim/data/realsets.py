"""Paired real test sets (Tables 4, 5, 7): degraded inputs with their clean images, in their published layouts.

Each set lives in ``<root>/<SetName>/`` (roots as for every test set: ``--data-root``,
``$DIL_OPTIM_DATA``, the user cache) in the layout its authors publish:

* ``SIDD``: ``ValidationNoisyBlocksSrgb.mat`` and ``ValidationGtBlocksSrgb.mat`` (MATLAB v5 files;
  keys of the same names; ``(40, 32, 256, 256, 3)`` uint8): 1280 (noisy, clean) blocks, named
  ``IIII_BB`` (image, block; 1-based).
* ``DND``: ``info.mat`` (its ``info.boundingboxes``: per image a ``(20, 4)`` array of 1-based
  inclusive ``[row0, col0, row1, col1]``) and ``images_srgb/0001.mat .. 0050.mat`` (key
  ``InoisySRGB``, float in [0, 1]). The published files are MATLAB v7.3 (HDF5: need ``h5py``);
  v5 files (scipy) are read too. **No ground truth**: the clean side is ``None`` and results go
  to the online benchmark: :func:`write_dnd_submission` writes the layout it takes.
* ``RealSRV3``: ``Canon/Test/4/`` and ``Nikon/Test/4/`` with ``<Camera>_NNN_HR.png`` and
  ``<Camera>_NNN_LR4.png`` (version 3: the LR image is a quarter of the HR size).
* ``DRealSR``: ``test_LR/<name>_x4.png`` with ``test_HR/<name>_x1.png`` (also accepted inside ``Test_x4/``).
* ``Rain100L``, ``Rain12``, ``Rain800``: ``input/`` + ``target/`` (same file names; the layout of
  MPRNet/Restormer's deraining test sets), or ``rainy/`` + ``norain/``, or ``rain-NNN.png`` next
  to ``norain-NNN.png`` (JORDER/PReNet); pairs are matched on the stem without ``rain-``/``norain-``.

No checksums are recorded for these sets (they could not be downloaded where this was written):
a set is checked by its layout and its pair count (a partial copy is accepted and flagged as a
subset). An absent set raises :class:`~dil_optim.data.TestSetError` whose one message says
where it was looked for, where to get it and where to put it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .images import decode_image_uint8, list_images, uint8_to_float
from .registry import DATA_ENV_VAR, candidate_roots, lookup_test_set, resolve_set_dir
from .testsets import TestSetError

__all__ = ["PairedSet", "load_paired_set", "is_paired", "sr_scale", "write_dnd_submission", "dnd_boxes"]

#: x4 real-SR sets
_SR_SCALE = {"realsr_v3": 4, "drealsr": 4}


def is_paired(name: str) -> bool:
    """Whether ``name`` is a registered paired real set."""
    try:
        return bool(lookup_test_set(name).paired)
    except ValueError:
        return False


def sr_scale(name: str) -> int:
    """The SR factor between a paired set's clean and degraded images (1: same size)."""
    return _SR_SCALE.get(lookup_test_set(name).paired, 1)


@dataclass
class PairedSet:
    """A paired real set: ``items`` are ``(name, degraded (3, h, w), clean (3, H, W) or None)``,
    float32 in [0, 1]; ``scale``: ``H / h``; ``subset``: fewer pairs than the published count."""

    name: str
    items: list[tuple[str, Tensor, Tensor | None]]
    scale: int
    expected: int
    subset: bool
    root: Path
    meta: dict[str, Any] = field(default_factory=dict)  # DND: per item (image index, box index)

    def __iter__(self) -> Iterator[tuple[str, Tensor, Tensor | None]]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def _absent(name: str, data_root: str | os.PathLike[str] | None) -> TestSetError:
    spec = lookup_test_set(name)
    roots = ", ".join(str(r) for r in candidate_roots(data_root))
    return TestSetError(
        f"test set {spec.name!r} not found: no folder {spec.name}/ in any data root (looked in, in "
        f"order: {roots}; set a root with --data-root or ${DATA_ENV_VAR}). Expected {spec.count} "
        f"(degraded, clean) pairs: {spec.description}. To get it: {spec.how_to_get}."
    )


def _bad(name: str, folder: Path, what: str) -> TestSetError:
    spec = lookup_test_set(name)
    return TestSetError(
        f"test set {spec.name!r} at {folder} is not usable: {what}. Expected layout: "
        f"{spec.description}. To get it: {spec.how_to_get}."
    )


def _img(path: Path) -> Tensor:
    return uint8_to_float(decode_image_uint8(path))


def _hwc(a: np.ndarray) -> Tensor:
    """An ``(H, W, 3)`` array (uint8, or float in [0, 1]) as a ``(3, H, W)`` float32 tensor."""
    t = torch.from_numpy(np.ascontiguousarray(a))
    t = t.to(torch.float32) / 255.0 if t.dtype == torch.uint8 else t.to(torch.float32).clamp(0, 1)
    return t.permute(2, 0, 1).contiguous()


def _loadmat(path: Path) -> Any:
    """A MATLAB file: v5 through scipy, v7.3 (HDF5) through h5py (``("h5", file)``)."""
    import scipy.io

    try:
        return scipy.io.loadmat(str(path))
    except NotImplementedError:  # v7.3
        try:
            import h5py
        except ImportError as err:
            raise TestSetError(
                f"{path} is a MATLAB v7.3 (HDF5) file: reading it needs h5py (pip install h5py)"
            ) from err
        return ("h5", h5py.File(str(path), "r"))


def _sidd(name: str, folder: Path, limit: int | None) -> list[tuple[str, Tensor, Tensor | None]]:
    files = {k: folder / f"Validation{k}BlocksSrgb.mat" for k in ("Noisy", "Gt")}
    missing = [p.name for p in files.values() if not p.is_file()]
    if missing:
        raise _bad(name, folder, f"missing {', '.join(missing)}")
    arrays = {}
    for k, p in files.items():
        m = _loadmat(p)
        key = f"Validation{k}BlocksSrgb"
        arrays[k] = np.asarray(m[1][key]).T if isinstance(m, tuple) else m[key]  # h5py reads MATLAB arrays transposed
    noisy, gt = arrays["Noisy"], arrays["Gt"]
    if noisy.shape != gt.shape or noisy.ndim != 5 or noisy.shape[-1] != 3:
        raise _bad(
            name,
            folder,
            f"blocks of shapes {noisy.shape} and {gt.shape}; expected two equal (images, blocks, H, W, 3) arrays",
        )
    out: list[tuple[str, Tensor, Tensor | None]] = []
    for i in range(noisy.shape[0]):
        for b in range(noisy.shape[1]):
            if limit is not None and len(out) >= limit:
                return out
            out.append((f"{i + 1:04d}_{b + 1:02d}", _hwc(noisy[i, b]), _hwc(gt[i, b])))
    return out


def dnd_boxes(folder: Path) -> list[np.ndarray]:
    """Per DND image, its ``(20, 4)`` 1-based inclusive boxes ``[row0, col0, row1, col1]`` from ``info.mat``."""
    m = _loadmat(folder / "info.mat")
    if isinstance(m, tuple):  # v7.3: info/boundingboxes holds object references, one per image
        f = m[1]
        refs = f["info"]["boundingboxes"]
        return [np.asarray(f[refs[0][i]]).T for i in range(refs.shape[1])]
    bb = m["info"]["boundingboxes"][0, 0]
    return [np.asarray(bb[0, i]) for i in range(bb.shape[1])]


def _dnd(name: str, folder: Path, limit: int | None, meta: dict[str, Any]) -> list[tuple[str, Tensor, Tensor | None]]:
    if not (folder / "info.mat").is_file() or not (folder / "images_srgb").is_dir():
        raise _bad(name, folder, "info.mat or images_srgb/ missing")
    boxes = dnd_boxes(folder)
    out: list[tuple[str, Tensor, Tensor | None]] = []
    where: list[tuple[int, int]] = []
    for i, bb in enumerate(boxes):
        path = folder / "images_srgb" / f"{i + 1:04d}.mat"
        if not path.is_file():
            continue
        m = _loadmat(path)
        img = np.asarray(m[1]["InoisySRGB"]).T if isinstance(m, tuple) else m["InoisySRGB"]
        for k in range(bb.shape[0]):
            if limit is not None and len(out) >= limit:
                meta["where"] = where
                return out
            r0, c0, r1, c1 = (int(v) for v in bb[k])
            out.append((f"{i + 1:04d}_{k + 1:02d}", _hwc(np.float32(img[r0 - 1 : r1, c0 - 1 : c1, :])), None))
            where.append((i + 1, k + 1))
    meta["where"] = where
    if not out:
        raise _bad(name, folder, "no images_srgb/NNNN.mat file")
    return out


def _sr_pairs(name: str, folder: Path, layout: str, limit: int | None) -> list[tuple[str, Tensor, Tensor | None]]:
    pairs: list[tuple[str, Path, Path]] = []
    if layout == "realsr_v3":
        for cam in ("Canon", "Nikon"):
            d = folder / cam / "Test" / "4"
            if not d.is_dir():
                continue
            for hr in list_images(d):
                m = re.fullmatch(r"(.+)_HR", hr.stem)
                if m:
                    lr = next((p for p in d.glob(f"{m.group(1)}_LR4.*")), None)
                    if lr is not None:
                        pairs.append((m.group(1), lr, hr))
    else:  # drealsr
        base = folder / "Test_x4" if (folder / "Test_x4").is_dir() and not (folder / "test_LR").is_dir() else folder
        lr_dir, hr_dir = base / "test_LR", base / "test_HR"
        if lr_dir.is_dir() and hr_dir.is_dir():
            hrs = {re.sub(r"_x1$", "", p.stem): p for p in list_images(hr_dir)}
            for lr in list_images(lr_dir):
                key = re.sub(r"_x4$", "", lr.stem)
                if key in hrs:
                    pairs.append((key, lr, hrs[key]))
    if not pairs:
        raise _bad(name, folder, "no (LR, HR) pairs found")
    out: list[tuple[str, Tensor, Tensor | None]] = []
    for key, lr, hr in pairs[:limit] if limit else pairs:
        lo, hi = _img(lr), _img(hr)
        h, w = lo.shape[-2:]
        if hi.shape[-2] < 4 * h or hi.shape[-1] < 4 * w:
            raise _bad(
                name,
                folder,
                f"{hr.name} ({hi.shape[-1]}x{hi.shape[-2]}) is not 4x its LR {lr.name} "
                f"({w}x{h}); version 3 of RealSR is the one with smaller LR images",
            )
        out.append((key, lo, hi[:, : 4 * h, : 4 * w].contiguous()))
    return out


_RAIN_PREFIX = re.compile(r"^(no)?rain[-_]", re.IGNORECASE)


def _derain(name: str, folder: Path, limit: int | None) -> list[tuple[str, Tensor, Tensor | None]]:
    def key(p: Path) -> str:
        return _RAIN_PREFIX.sub("", p.stem)

    pairs: list[tuple[str, Path, Path]] = []
    for deg, cln in (("input", "target"), ("rainy", "norain"), ("rain", "norain")):
        if (folder / deg).is_dir() and (folder / cln).is_dir():
            clean = {key(p): p for p in list_images(folder / cln)}
            pairs = [(key(p), p, clean[key(p)]) for p in list_images(folder / deg) if key(p) in clean]
            break
    if not pairs:  # rain-NNN.png next to norain-NNN.png (in the folder, or rainy/ next to them)
        files = list_images(folder) + (list_images(folder / "rainy") if (folder / "rainy").is_dir() else [])
        clean = {key(p): p for p in files if p.stem.lower().startswith("norain")}
        pairs = [
            (key(p), p, clean[key(p)])
            for p in files
            if re.match(r"^rain[-_]", p.stem, re.IGNORECASE) and key(p) in clean
        ]
    if not pairs:
        raise _bad(name, folder, "no (rainy, clean) pairs found")
    out: list[tuple[str, Tensor, Tensor | None]] = []
    for k, deg_p, cln_p in pairs[:limit] if limit else pairs:
        d, c = _img(deg_p), _img(cln_p)
        if d.shape != c.shape:
            raise _bad(name, folder, f"{deg_p.name} and {cln_p.name} differ in size")
        out.append((k, d, c))
    return out


def load_paired_set(name: str, data_root: str | os.PathLike[str] | None = None, images: int | None = None) -> PairedSet:
    """The paired real set ``name`` (its first ``images`` pairs when given).

    Raises:
        TestSetError: absent (one message: where it was looked for, where to get it, where to
            put it), or present in another layout.
        ValueError: ``name`` is not a paired set.
    """
    spec = lookup_test_set(name)
    if not spec.paired:
        raise ValueError(f"{spec.name} is not a paired real set; read it with dil_optim.data.TestSet")
    folder = resolve_set_dir(spec.name, data_root)
    if folder is None:
        raise _absent(spec.name, data_root)
    meta: dict[str, Any] = {}
    if spec.paired == "sidd_blocks":
        items = _sidd(spec.name, folder, images)
    elif spec.paired == "dnd":
        items = _dnd(spec.name, folder, images, meta)
    elif spec.paired in _SR_SCALE:
        items = _sr_pairs(spec.name, folder, spec.paired, images)
    else:
        items = _derain(spec.name, folder, images)
    return PairedSet(spec.name, items, _SR_SCALE.get(spec.paired, 1), spec.count, len(items) < spec.count, folder, meta)


def write_dnd_submission(out: str | os.PathLike[str], denoised: dict[tuple[int, int], Tensor]) -> Path:
    """Write denoised DND crops in the layout the DND online benchmark takes (its
    ``bundle_submissions_srgb``): ``<out>/NNNN.mat`` per image holding ``Idenoised`` (a 1x20 cell
    of ``(512, 512, 3)`` float32 crops), ``israw = False`` and ``eval_version = "1.0"``.

    ``denoised``: ``(image 1..50, box 1..20) -> (3, H, W)`` tensor in [0, 1]. Boxes not given
    are left empty (the benchmark then refuses that image): a submission needs all 1000 crops.
    Returns ``out``.
    """
    import scipy.io

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    for image in sorted({i for i, _ in denoised}):
        cell = np.empty((1, 20), dtype=object)
        for k in range(20):
            crop = denoised.get((image, k + 1))
            cell[0, k] = (
                np.zeros((0, 0, 3), np.float32)
                if crop is None
                else crop.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()
            )
        scipy.io.savemat(str(folder / f"{image:04d}.mat"), {"Idenoised": cell, "israw": False, "eval_version": "1.0"})
    return folder
