"""Hybrid distortions: RL-Restore's level protocol and the blur -> noise -> JPEG order."""

from __future__ import annotations

import pytest
import torch

from dil_optim.augment import HYBRID_LEVELS, HybridDistortion
from dil_optim.augment.blur import filter_separable, gaussian_kernel1d
from dil_optim.augment.hybrid import level_triples
from dil_optim.augment.jpeg import jpeg_compress
from dil_optim.augment.noise import add_gaussian_noise

from ._helpers import gen, natural_batch, psnr


def test_level_triples_enumerate_the_ordered_combinations() -> None:
    moderate = level_triples(12, 17)
    sums = moderate.sum(dim=1) - 2
    assert int(sums.min()) == 12 and int(sums.max()) == 17
    assert len({tuple(r) for r in moderate.tolist()}) == len(moderate)  # no duplicates
    brute = sum(1 for a in range(1, 11) for b in range(1, 11) for c in range(1, 11) if 12 <= a + b + c - 2 <= 17)
    assert len(moderate) == brute
    assert HYBRID_LEVELS == {"mild": (9, 11), "moderate": (12, 17), "severe": (18, 20)}


def test_parameters_fall_in_their_level_bins() -> None:
    deg = HybridDistortion("severe")
    blur, noise, quality = deg.sample_params(2000, gen(0), torch.device("cpu"))
    assert float(blur.min()) >= 0 and float(blur.max()) <= 5
    assert float(noise.min()) >= 0 and float(noise.max()) <= 50
    assert float(quality.min()) >= 10 and float(quality.max()) <= 100
    steps = torch.tensor([100.0, 80, 60, 50, 40, 35, 30, 25, 20, 15, 10], dtype=torch.float64)
    lb = torch.clamp(torch.ceil(blur / 0.5), min=1)
    ln = torch.clamp(torch.ceil(noise / 5), min=1)
    lj = torch.searchsorted(-steps, -quality.double(), right=False).clamp(1, 10)
    total = lb + ln + lj - 2
    assert float(total.min()) >= 18 and float(total.max()) <= 20


def test_single_level_sum() -> None:
    blur, noise, quality = HybridDistortion(18).sample_params(500, gen(1), torch.device("cpu"))
    lb = torch.clamp(torch.ceil(blur / 0.5), min=1)
    ln = torch.clamp(torch.ceil(noise / 5), min=1)
    steps = torch.tensor([100.0, 80, 60, 50, 40, 35, 30, 25, 20, 15, 10], dtype=torch.float64)
    lj = torch.searchsorted(-steps, -quality.double()).clamp(1, 10)
    assert torch.equal(lb + ln + lj - 2, torch.full_like(lb, 18))


def test_applies_blur_then_noise_then_jpeg() -> None:
    x = natural_batch(3, 48)
    deg = HybridDistortion("moderate")
    out = deg(x, gen(2))
    g = gen(2)
    blur, noise, quality = deg.sample_params(3, g, x.device, torch.float32)
    ref = filter_separable(x, gaussian_kernel1d(blur, 10))
    ref = add_gaussian_noise(ref.clamp(0, 1), noise, None, g, clip=True)
    ref = jpeg_compress(ref, quality.round())
    torch.testing.assert_close(out, ref)


def test_severity_orders_the_damage() -> None:
    from skimage import data

    img = torch.from_numpy(data.astronaut().copy()).permute(2, 0, 1).float() / 255
    tiles = img.unfold(1, 64, 64).unfold(2, 64, 64).permute(1, 2, 0, 3, 4).reshape(-1, 3, 64, 64)  # 64 tiles
    scores = {lv: psnr(HybridDistortion(lv)(tiles, gen(0)), tiles) for lv in HYBRID_LEVELS}
    assert scores["mild"] > scores["moderate"] > scores["severe"]


@pytest.mark.parametrize("bad", ["extreme", 0, 29, (15, 12), 1.5, (1, 2, 3)])
def test_bad_levels_raise(bad: object) -> None:
    with pytest.raises((ValueError, TypeError), match="level"):
        HybridDistortion(bad)  # type: ignore[arg-type]
