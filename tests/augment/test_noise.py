"""AWGN and Poisson noise: measured statistics against their closed forms."""

from __future__ import annotations

import pytest
import torch

from dil_optim.augment import GaussianNoise, PoissonNoise

from ._helpers import gen

GREY = torch.full((4, 3, 128, 128), 0.5, dtype=torch.float64)  # 196,608 noise samples


@pytest.mark.parametrize("sigma", [5.0, 15.0, 50.0])
def test_awgn_std_matches_sigma_before_clipping(sigma: float) -> None:
    # clip=False returns exactly x + n: the measured std of n is sigma / 255. With 196,608
    # samples the std estimate has a relative standard error of 0.16%; allow 1%.
    noise = (GaussianNoise(sigma, clip=False)(GREY, gen(0)) - GREY) * 255.0
    assert abs(float(noise.std()) / sigma - 1.0) < 0.01
    assert abs(float(noise.mean())) < 4 * sigma / noise.numel() ** 0.5


def test_awgn_clipped_equals_unclipped_on_mid_grey_at_small_sigma() -> None:
    # At sigma 5 the mid-grey value 0.5 is 25.5 standard deviations from either bound, so
    # clipping never triggers and the clipped (default) output is the same tensor.
    clipped = GaussianNoise(5)(GREY, gen(1))
    raw = GaussianNoise(5, clip=False)(GREY, gen(1))
    assert torch.equal(clipped, raw)
    assert abs(float((clipped - GREY).std()) * 255 / 5 - 1) < 0.01


def test_awgn_output_is_clipped() -> None:
    out = GaussianNoise(50)(GREY, gen(2))
    assert float(out.min()) == 0.0 and float(out.max()) == 1.0  # sigma 50: ~0.3% of values hit each bound


def test_awgn_per_sample_sigma_range() -> None:
    x = torch.full((64, 1, 64, 64), 0.5, dtype=torch.float64)
    noise = (GaussianNoise((5, 20), clip=False)(x, gen(3)) - x) * 255
    stds = noise.flatten(1).std(dim=1)
    assert float(stds.min()) > 5 * 0.95 and float(stds.max()) < 20 * 1.05
    assert float(stds.max() - stds.min()) > 8  # really drawn per sample, spread over the range
    # uniform on [5, 20]: mean 12.5, std 4.33; the 64-sample mean is within 3 standard errors
    assert abs(float(stds.mean()) - 12.5) < 3 * 4.33 / 8


def test_awgn_gray_noise_is_shared_by_channels() -> None:
    x = torch.full((8, 3, 16, 16), 0.5)
    out = GaussianNoise(10, gray_prob=1.0, clip=False)(x, gen(4))
    assert torch.equal(out[:, 0], out[:, 1]) and torch.equal(out[:, 1], out[:, 2])
    colour = GaussianNoise(10, gray_prob=0.0, clip=False)(x, gen(4))
    assert not torch.equal(colour[:, 0], colour[:, 1])


def test_poisson_noise_matches_shot_noise_model() -> None:
    # Real-ESRGAN's model: noise = scale * (Poisson(v p) / v - p), v = 2**ceil(log2(#levels)).
    # An image with all 256 8-bit levels has v = 256: mean 0 and variance scale^2 p / 256.
    levels = torch.arange(256, dtype=torch.float64) / 255
    x = levels.repeat(2, 3, 256, 1)  # (2, 3, 256, 256), every row holds every level
    scale = 2.0
    noise = PoissonNoise(scale, clip=False)(x, gen(5)) - x
    var_by_level = noise.permute(3, 0, 1, 2).reshape(256, -1).var(dim=1)
    expected = scale**2 * levels / 256
    sel = levels > 0.2  # 1,536 samples per level: the variance estimate is within ~3.6% (1 s.e.)
    ratio = var_by_level[sel] / expected[sel]
    assert abs(float(ratio.mean()) - 1) < 0.02
    assert float(noise.mean().abs()) < 1e-3
    assert float(noise[..., 0].abs().max()) == 0.0  # level 0 has no shot noise


def test_poisson_noise_scale_scales_the_noise() -> None:
    x = torch.linspace(0, 1, 256, dtype=torch.float64).repeat(1, 3, 64, 1)
    a = PoissonNoise(1.0, clip=False)(x, gen(6)) - x
    b = PoissonNoise(3.0, clip=False)(x, gen(6)) - x
    torch.testing.assert_close(b, 3 * a)  # same Poisson draws, scaled


def test_poisson_gray_noise_is_shared_by_channels() -> None:
    x = torch.rand(4, 3, 32, 32, generator=gen(7))
    out = PoissonNoise(1.0, gray_prob=1.0, clip=False)(x, gen(8))
    n = out - x
    torch.testing.assert_close(n[:, 0], n[:, 1])
    torch.testing.assert_close(n[:, 0], n[:, 2])


@pytest.mark.parametrize("bad", [-1.0, (-5, 10), (20, 5), float("nan"), "15", (1, 2, 3), True])
def test_bad_sigma_raises(bad: object) -> None:
    with pytest.raises((ValueError, TypeError), match="sigma"):
        GaussianNoise(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_bad_gray_prob_raises(bad: float) -> None:
    with pytest.raises(ValueError, match="gray_prob"):
        GaussianNoise(10, gray_prob=bad)
    with pytest.raises(ValueError, match="gray_prob"):
        PoissonNoise(1, gray_prob=bad)


def test_negative_poisson_scale_raises() -> None:
    with pytest.raises(ValueError, match="scale"):
        PoissonNoise(-1)
