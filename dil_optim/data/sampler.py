"""Random square patches from in-memory images, with the 8 flip/rotation augmentations."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence
from typing import Any, Union

import torch

from .images import ImageFolder

logger = logging.getLogger(__name__)

ImageInput = Union[ImageFolder, Sequence[torch.Tensor], Sequence[tuple[str, torch.Tensor]]]


def dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    """One of the 8 symmetries of the square on the last two dims of ``x``.

    ``k`` in ``0..7``: ``k % 4`` quarter turns counter-clockwise, after a horizontal flip when
    ``k >= 4``. ``k = 0`` is the identity. Returns a view or a new tensor, never modifies ``x``.
    """
    if not 0 <= k < 8:
        raise ValueError(f"dihedral index must be in 0..7, got {k}")
    if k >= 4:
        x = x.flip(-1)
    return torch.rot90(x, k % 4, dims=(-2, -1)) if k % 4 else x


def _as_uint8(img: torch.Tensor, name: str) -> torch.Tensor:
    if not isinstance(img, torch.Tensor):
        raise TypeError(f"image {name} must be a torch.Tensor, got {type(img).__name__}")
    if img.dim() != 3 or img.shape[0] != 3:
        raise ValueError(f"image {name} must have shape (3, H, W), got {tuple(img.shape)}")
    if img.dtype == torch.uint8:
        return img.detach().to("cpu")
    if not img.is_floating_point():
        raise TypeError(f"image {name} must be uint8 or float in [0, 1], got {img.dtype}")
    x = img.detach().to("cpu", torch.float64)
    if x.numel() and (bool(torch.isnan(x).any()) or float(x.min()) < 0.0 or float(x.max()) > 1.0):
        raise ValueError(f"image {name} must hold values in [0, 1] (float images are stored as 8-bit)")
    return x.mul(255.0).round_().to(torch.uint8)


class PatchSampler:
    """Draws batches of random ``patch_size`` x ``patch_size`` crops from images held in memory.

    Images are kept as ``(3, H, W)`` uint8 (a quarter of float32's memory) and cropped on the fly.
    Each patch picks an image uniformly at random (not weighted by area), a uniformly random
    position, and, when ``augment`` is true, one of the 8 flip/rotation symmetries (see
    :func:`dihedral`) uniformly. All randomness comes from ``generator`` (CPU); a fixed number
    of draws is taken per batch, so a sampler restored with :meth:`load_state_dict` continues
    with exactly the patches the original would have drawn.

    Images smaller than the patch in height or width are skipped with a logged warning naming
    them; if none is large enough, ``ValueError``.

    Args:
        images: an :class:`ImageFolder` (its uint8 storage is shared, not copied), a sequence
            of ``(3, H, W)`` tensors, or of ``(name, tensor)`` pairs (as ``builtin_images()``
            returns). Tensors are uint8, or float in ``[0, 1]`` (rounded to 8 bits).
        patch_size: side ``P`` of the square patches, in pixels.
        batch_size: patches per batch ``B``.
        augment: apply the random dihedral augmentation.
        generator: CPU ``torch.Generator`` to draw from (advanced in place); default a new one
            seeded with ``seed``.
        seed: seed for the default generator (ignored when ``generator`` is given).
        device: where :meth:`next` puts the batch (the uint8 crop moves, then converts).

    ``next()`` (or ``next(sampler)``) returns a ``(B, 3, P, P)`` float32 tensor in ``[0, 1]``.
    """

    def __init__(
        self,
        images: ImageInput,
        patch_size: int,
        batch_size: int,
        *,
        augment: bool = True,
        generator: torch.Generator | None = None,
        seed: int = 0,
        device: torch.device | str | None = None,
    ) -> None:
        for label, v in (("patch_size", patch_size), ("batch_size", batch_size)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{label} must be a positive int, got {v!r}")
        if generator is not None:
            if not isinstance(generator, torch.Generator):
                raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
            if generator.device.type != "cpu":
                raise ValueError(f"generator must be a CPU generator, got device {generator.device}")
        names, tensors = self._unpack(images)
        if not tensors:
            raise ValueError("PatchSampler needs at least one image, got none")
        keep: list[tuple[str, torch.Tensor]] = []
        small: list[tuple[str, torch.Tensor]] = []
        for name, t in zip(names, tensors):
            (small if t.shape[1] < patch_size or t.shape[2] < patch_size else keep).append((name, t))
        if small:
            desc = ", ".join(f"{n} ({t.shape[2]}x{t.shape[1]})" for n, t in small[:10])
            more = f" and {len(small) - 10} more" if len(small) > 10 else ""
            if not keep:
                raise ValueError(f"no image is at least {patch_size}x{patch_size}: {desc}{more}")
            logger.warning(
                "PatchSampler: skipped %d image(s) smaller than %dx%d: %s%s",
                len(small),
                patch_size,
                patch_size,
                desc,
                more,
            )
        self.names: list[str] = [n for n, _ in keep]
        self._images: list[torch.Tensor] = [t for _, t in keep]
        self.patch_size = patch_size
        self.batch_size = batch_size
        self.augment = bool(augment)
        self.device = torch.device(device) if device is not None else None
        self.generator = generator if generator is not None else torch.Generator().manual_seed(seed)
        self._heights = torch.tensor([t.shape[1] for t in self._images], dtype=torch.float64)
        self._widths = torch.tensor([t.shape[2] for t in self._images], dtype=torch.float64)
        self._batches_drawn = 0
        self._lut: torch.Tensor | None = None

    @staticmethod
    def _unpack(images: ImageInput) -> tuple[list[str], list[torch.Tensor]]:
        if isinstance(images, ImageFolder):
            return list(images.names), [images.uint8(i) for i in range(len(images))]
        if isinstance(images, torch.Tensor) or not isinstance(images, Sequence):
            raise TypeError("images must be an ImageFolder or a sequence of (3, H, W) tensors or (name, tensor) pairs")
        names, tensors = [], []
        for i, item in enumerate(images):
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
                name, t = item
            else:
                name, t = f"#{i}", item
            names.append(name)
            tensors.append(_as_uint8(t, name))
        return names, tensors

    def __len__(self) -> int:
        """Number of images patches are drawn from (after skipping small ones)."""
        return len(self._images)

    @property
    def batches_drawn(self) -> int:
        """How many batches :meth:`next` has returned (restored by :meth:`load_state_dict`)."""
        return self._batches_drawn

    def next(self) -> torch.Tensor:
        """The next ``(B, 3, P, P)`` float32 batch in ``[0, 1]`` (on ``device``)."""
        g, p, b = self.generator, self.patch_size, self.batch_size
        idx = torch.randint(len(self._images), (b,), generator=g)
        pos = torch.rand((b, 2), generator=g, dtype=torch.float64)
        aug = torch.randint(8, (b,), generator=g)
        tops = (pos[:, 0] * (self._heights[idx] - p + 1)).floor().long().tolist()
        lefts = (pos[:, 1] * (self._widths[idx] - p + 1)).floor().long().tolist()
        ks = aug.tolist() if self.augment else [0] * b
        out = torch.empty((b, 3, p, p), dtype=torch.uint8)
        for j, (i, top, left, k) in enumerate(zip(idx.tolist(), tops, lefts, ks)):
            out[j] = dihedral(self._images[i][:, top : top + p, left : left + p], k)
        self._batches_drawn += 1
        if self.device is None or self.device.type == "cpu":
            return out.to(torch.float32).div_(255.0)
        # a table lookup gives bit-identical values on every device (CUDA divides by a
        # scalar through its reciprocal, which can differ from k / 255 in the last bit)
        if self._lut is None:
            self._lut = (torch.arange(256, dtype=torch.float32) / 255.0).to(self.device)
        return self._lut[out.to(self.device, non_blocking=True).long()]

    def __next__(self) -> torch.Tensor:
        return self.next()

    def __iter__(self) -> Iterator[torch.Tensor]:
        return self

    def _fingerprint(self) -> str:
        sizes = ";".join(f"{t.shape[1]}x{t.shape[2]}" for t in self._images)
        return hashlib.sha256(sizes.encode()).hexdigest()[:16]

    def state_dict(self) -> dict[str, Any]:
        """Generator state, batch counter and the configuration it belongs to (checked on load)."""
        return {
            "generator_state": self.generator.get_state(),
            "batches_drawn": self._batches_drawn,
            "patch_size": self.patch_size,
            "batch_size": self.batch_size,
            "augment": self.augment,
            "num_images": len(self._images),
            "image_sizes_fingerprint": self._fingerprint(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`; ``ValueError`` (state unchanged) if it belongs to a sampler
        with other patch size, batch size, augmentation or images."""
        required = (
            "generator_state",
            "batches_drawn",
            "patch_size",
            "batch_size",
            "augment",
            "num_images",
            "image_sizes_fingerprint",
        )
        missing = [k for k in required if k not in state]
        if missing:
            raise ValueError(f"PatchSampler state is missing keys {missing}")
        mine = self.state_dict()
        diffs = [f"{k}: saved {state[k]!r}, here {mine[k]!r}" for k in required[2:] if state[k] != mine[k]]
        if diffs:
            raise ValueError("PatchSampler state belongs to another configuration: " + "; ".join(diffs))
        gstate = state["generator_state"]
        if not isinstance(gstate, torch.Tensor) or gstate.dtype != torch.uint8:
            raise TypeError("generator_state must be a uint8 tensor from torch.Generator.get_state()")
        self.generator.set_state(gstate.clone())
        self._batches_drawn = int(state["batches_drawn"])

    def __repr__(self) -> str:
        return (
            f"PatchSampler(images={len(self)}, patch_size={self.patch_size}, "
            f"batch_size={self.batch_size}, augment={self.augment})"
        )
