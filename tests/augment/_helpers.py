"""Shared helpers of the augment tests."""

from __future__ import annotations

import torch


def natural_batch(n: int = 4, size: int = 64, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``(n, 3, size, size)`` crops of scikit-image's astronaut photo, float in [0, 1]."""
    from skimage import data

    img = torch.from_numpy(data.astronaut().copy()).permute(2, 0, 1).to(dtype) / 255.0
    crops = [img[:, 40 + 60 * i: 40 + 60 * i + size, 150 + 30 * i: 150 + 30 * i + size] for i in range(n)]
    return torch.stack(crops).contiguous()


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a.double() - b.double()) ** 2).mean())
    return float("inf") if mse == 0 else 10 * torch.log10(torch.tensor(1.0 / mse)).item()
