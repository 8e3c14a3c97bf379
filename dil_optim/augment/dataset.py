"""Dataset confounders: a folder of (degraded, clean) image pairs is one confounder.

Some distortions have no released synthesis (the DIL paper's deraining task: Rain14000,
DID-MDN and Heavy Rain are three confounders, supplementary Sec. 11.2.2), so the confounder
is a dataset. :class:`PairedFolder` pairs the files of a degraded folder with those of a
clean folder, checks the pairing up front (clear errors on missing or unpaired files) and
samples aligned random crops. Such a confounder cannot produce counterfactuals of a given
clean batch: :class:`~dil_optim.augment.ConfounderSet` uses it with ``content="independent"``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import Tensor
from torchvision.io import ImageReadMode, decode_image, read_file

from .base import check_generator, randint

__all__ = ["PairedFolder", "IMAGE_EXTENSIONS"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def _list_images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder not found: {folder}")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in {folder}")
    return files


def _load(path: Path) -> Tensor:
    """``(3, H, W)`` float32 in ``[0, 1]``."""
    try:
        with warnings.catch_warnings():
            # torchvision 0.29 announces a move of its codecs to TorchCodec; the API still works
            warnings.filterwarnings("ignore", category=DeprecationWarning, module="torchvision")
            img = decode_image(read_file(str(path)), mode=ImageReadMode.RGB)
    except RuntimeError as err:
        raise ValueError(f"cannot decode image {path}: {err}") from err
    return img.to(torch.float32) / 255.0


class PairedFolder:
    """A confounder given as a folder of (degraded, clean) image pairs.

    Args:
        root: dataset folder.
        degraded_dir / clean_dir: sub-folders of ``root`` holding the degraded and clean
            images (default ``"input"`` / ``"target"``; e.g. ``"rain"`` / ``"norain"``).
        clean_name: maps a degraded file name to its clean file name (default: the same
            stem, any image extension). Several degraded files may share one clean image
            (Rain14000 has 14 rain streak versions of each clean image: pass e.g.
            ``lambda f: f.split("_")[0] + ".jpg"``).
        require_all_clean: also fail when a clean image has no degraded partner.
        cache: keep decoded images in memory after their first use.
        name: label (default: the folder name).

    Raises:
        FileNotFoundError: a folder is missing or empty, or degraded files have no clean partner.
        ValueError: clean images without a degraded partner (with ``require_all_clean``).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        degraded_dir: str = "input",
        clean_dir: str = "target",
        clean_name: Callable[[str], str] | None = None,
        require_all_clean: bool = True,
        cache: bool = True,
        name: str | None = None,
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"dataset folder not found: {self.root}")
        degraded = _list_images(self.root / degraded_dir)
        clean = _list_images(self.root / clean_dir)
        by_name = {p.name: p for p in clean}
        by_stem: dict[str, Path] = {}
        for p in clean:
            by_stem.setdefault(p.stem, p)
        pairs: list[tuple[Path, Path]] = []
        missing: list[str] = []
        for d in degraded:
            if clean_name is not None:
                target = by_name.get(clean_name(d.name))
            else:
                target = by_stem.get(d.stem)
            if target is None:
                missing.append(d.name)
            else:
                pairs.append((d, target))
        if missing:
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            raise FileNotFoundError(
                f"{len(missing)} degraded image(s) in {self.root / degraded_dir} have no "
                f"clean partner in {self.root / clean_dir}: {shown}"
            )
        used = {c for _, c in pairs}
        unpaired = [p.name for p in clean if p not in used]
        if unpaired and require_all_clean:
            shown = ", ".join(unpaired[:5]) + (f" and {len(unpaired) - 5} more" if len(unpaired) > 5 else "")
            raise ValueError(
                f"{len(unpaired)} clean image(s) in {self.root / clean_dir} have no degraded "
                f"partner: {shown} (pass require_all_clean=False to allow this)"
            )
        self.pairs = pairs
        self.cache = bool(cache)
        self._cache: dict[Path, Tensor] = {}
        self.name = name if name is not None else self.root.name

    def __len__(self) -> int:
        return len(self.pairs)

    def _image(self, path: Path) -> Tensor:
        if path in self._cache:
            return self._cache[path]
        img = _load(path)
        if self.cache:
            self._cache[path] = img
        return img

    def pair(self, index: int) -> tuple[Tensor, Tensor]:
        """The ``index``-th full-size ``(degraded, clean)`` pair, each ``(3, H, W)`` float32 in [0, 1].

        Raises:
            ValueError: the two images differ in size.
        """
        d_path, c_path = self.pairs[index]
        deg, clean = self._image(d_path), self._image(c_path)
        if deg.shape != clean.shape:
            raise ValueError(
                f"unpaired sizes: {d_path.name} is {tuple(deg.shape[1:])} but {c_path.name} is {tuple(clean.shape[1:])}"
            )
        return deg, clean

    def sample(
        self,
        batch_size: int,
        patch_size: int | Sequence[int],
        generator: torch.Generator | None = None,
        *,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> tuple[Tensor, Tensor]:
        """Random aligned crops: ``(degraded, clean)``, each ``(batch_size, 3, ph, pw)`` in ``[0, 1]``.

        Pairs and crop positions are drawn from ``generator`` (CPU numbers).

        Raises:
            ValueError: a bad batch or patch size, or an image smaller than the patch.
        """
        check_generator(generator)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        ph, pw = (patch_size, patch_size) if isinstance(patch_size, int) else tuple(patch_size)
        if ph < 1 or pw < 1:
            raise ValueError(f"patch_size must be positive, got {patch_size!r}")
        cpu = torch.device("cpu") if generator is None else generator.device
        idx = randint(len(self.pairs), (batch_size,), generator, cpu).tolist()
        offs = torch.rand((batch_size, 2), generator=generator, device=cpu, dtype=torch.float64).tolist()
        degs, cleans = [], []
        for i, (oy, ox) in zip(idx, offs):
            deg, clean = self.pair(i)
            h, w = deg.shape[-2:]
            if h < ph or w < pw:
                raise ValueError(f"image {self.pairs[i][0].name} is {h}x{w}, smaller than the patch {ph}x{pw}")
            top, left = int(oy * (h - ph + 1)), int(ox * (w - pw + 1))
            degs.append(deg[:, top : top + ph, left : left + pw])
            cleans.append(clean[:, top : top + ph, left : left + pw])
        return (torch.stack(degs).to(device=device, dtype=dtype), torch.stack(cleans).to(device=device, dtype=dtype))

    def __repr__(self) -> str:
        return f"PairedFolder(root={str(self.root)!r}, pairs={len(self.pairs)}, name={self.name!r})"
