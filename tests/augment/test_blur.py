"""Gaussian blur: kernel normalisation and moments, a scikit-image reference, batching paths."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dil_optim.augment import AnisotropicGaussianBlur, GaussianBlur, filter2d
from dil_optim.augment.base import pad_reflect
from dil_optim.augment.blur import filter_separable, gaussian_kernel1d, gaussian_kernel2d, kernel_radius

from ._helpers import gen, natural_batch

PAPER_SIGMAS = [1.0, 2.0, 3.0, 4.0, 4.2, 4.4, 4.6, 4.8, 5.0]


@pytest.mark.parametrize("sigma", PAPER_SIGMAS)
def test_kernel_sums_to_one_and_has_variance_sigma_squared(sigma: float) -> None:
    s = torch.tensor([sigma], dtype=torch.float64)
    k = GaussianBlur(sigma).kernels(s)[0]
    r = kernel_radius(sigma)
    assert k.numel() == 2 * r + 1 == 2 * int(4 * sigma + 0.5) + 1
    t = torch.arange(-r, r + 1, dtype=torch.float64)
    assert abs(float(k.sum()) - 1) < 1e-12
    assert abs(float((k * t).sum())) < 1e-12  # centred
    # truncation at >= 4 sigma removes < 0.2% of the variance (truncated-normal closed form)
    assert abs(float((k * t * t).sum()) / sigma**2 - 1) < 2e-3
    # 2-D second moments of the separable kernel: sigma^2 on the axes, no cross term
    k2 = k[:, None] * k[None, :]
    yy, xx = torch.meshgrid(t, t, indexing="ij")
    assert abs(float((k2 * xx * yy).sum())) < 1e-12
    assert abs(float((k2 * yy * yy).sum()) / sigma**2 - 1) < 2e-3


@pytest.mark.parametrize("sx,sy,theta", [(1.0, 3.0, 0.0), (3.0, 1.0, math.pi / 6), (2.0, 4.0, -1.0), (0.8, 2.5, 2.5)])
def test_anisotropic_kernel_second_moments(sx: float, sy: float, theta: float) -> None:
    d = torch.tensor
    k = gaussian_kernel2d(d([sx], dtype=torch.float64), d([sy], dtype=torch.float64),
                          d([theta], dtype=torch.float64), kernel_radius(max(sx, sy)))[0]
    r = k.shape[0] // 2
    t = torch.arange(-r, r + 1, dtype=torch.float64)
    yy, xx = torch.meshgrid(t, t, indexing="ij")
    cov = torch.stack([torch.stack([(k * xx * xx).sum(), (k * xx * yy).sum()]),
                       torch.stack([(k * yy * xx).sum(), (k * yy * yy).sum()])])
    rot = torch.tensor([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]], dtype=torch.float64)
    expected = rot @ torch.diag(torch.tensor([sx**2, sy**2], dtype=torch.float64)) @ rot.T
    assert abs(float(k.sum()) - 1) < 1e-12
    torch.testing.assert_close(cov, expected, atol=2e-3 * max(sx, sy) ** 2, rtol=0)


@pytest.mark.parametrize("sigma", [1.0, 2.5, 4.0])
def test_blur_matches_scikit_image(sigma: float) -> None:
    from skimage.filters import gaussian

    x = natural_batch(2, 48, torch.float64)
    out = GaussianBlur(sigma)(x)
    for i in range(2):
        ref = gaussian(x[i].numpy(), sigma=sigma, mode="mirror", truncate=4.0, channel_axis=0, preserve_range=True)
        np.testing.assert_allclose(out[i].numpy(), ref, atol=1e-12)


def test_large_blur_on_small_image_matches_scikit_image() -> None:
    # sigma 5 has radius 20 > 16 - 1: the reflection continues periodically (the conv path)
    from skimage.filters import gaussian

    x = natural_batch(1, 16, torch.float64)
    out = GaussianBlur(5.0)(x)
    ref = gaussian(x[0].numpy(), sigma=5.0, mode="mirror", truncate=4.0, channel_axis=0, preserve_range=True)
    np.testing.assert_allclose(out[0].numpy(), ref, atol=1e-12)


def test_matmul_and_convolution_paths_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    import dil_optim.augment.blur as blur_mod

    x = natural_batch(3, 40, torch.float64)
    k = gaussian_kernel1d(torch.tensor([0.7, 1.9, 3.1], dtype=torch.float64), 12)
    fast = filter_separable(x, k)
    monkeypatch.setattr(blur_mod, "_MATMUL_MAX", 0)
    slow = filter_separable(x, k)
    torch.testing.assert_close(fast, slow, atol=1e-13, rtol=0)


def test_per_sample_sigmas_equal_fixed_sigma_blur() -> None:
    x = natural_batch(4, 40, torch.float64)
    deg = GaussianBlur((1.0, 4.0))
    out = deg(x, gen(0))
    sigmas = deg.sigma.sample(4, gen(0), x.device, torch.float64)  # the same draws
    assert float(sigmas.max() - sigmas.min()) > 0.3
    for i in range(4):
        torch.testing.assert_close(out[i:i + 1], GaussianBlur(float(sigmas[i]))(x[i:i + 1]), atol=1e-12, rtol=0)


def test_isotropic_anisotropic_blur_equals_gaussian_blur() -> None:
    x = natural_batch(2, 40, torch.float64)
    iso = GaussianBlur(2.0)(x)
    aniso = AnisotropicGaussianBlur(2.0, 2.0, 0.7)(x)
    torch.testing.assert_close(iso, aniso, atol=1e-12, rtol=0)


def test_sigma_zero_is_identity() -> None:
    x = natural_batch(2, 24)
    assert torch.equal(GaussianBlur(0.0)(x), x)
    torch.testing.assert_close(GaussianBlur((0.0, 1e-9))(x), x)


def test_blur_preserves_mean_and_constants() -> None:
    const = torch.full((2, 3, 20, 20), 0.3, dtype=torch.float64)
    torch.testing.assert_close(GaussianBlur(3.0)(const), const)
    torch.testing.assert_close(AnisotropicGaussianBlur(1.0, 3.0, 0.4)(const), const)


def test_filter2d_is_a_true_convolution() -> None:
    # an impulse convolved with k reproduces k (not its mirror image)
    x = torch.zeros(1, 1, 9, 9, dtype=torch.float64)
    x[0, 0, 4, 4] = 1.0
    k = torch.arange(9, dtype=torch.float64).reshape(3, 3)
    out = filter2d(x, k)
    torch.testing.assert_close(out[0, 0, 3:6, 3:6], k)


def test_pad_reflect_matches_numpy_even_beyond_the_size() -> None:
    x = torch.arange(12.0).reshape(1, 1, 3, 4)
    for pad in (1, 2, 5, 9):
        ref = np.pad(x[0, 0].numpy(), pad, mode="reflect")
        np.testing.assert_array_equal(pad_reflect(x, pad)[0, 0].numpy(), ref)


def test_fixed_kernel_size() -> None:
    k = GaussianBlur(3.0, kernel_size=21).kernels(torch.tensor([3.0]))
    assert k.shape == (1, 21)


@pytest.mark.parametrize("kwargs", [{"sigma": -1.0}, {"sigma": (2.0, 1.0)}, {"sigma": 1.0, "kernel_size": 4},
                                    {"sigma": 1.0, "kernel_size": 0}, {"sigma": 1.0, "truncate": 0.0}])
def test_bad_blur_parameters_raise(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="sigma|kernel_size|truncate"):
        GaussianBlur(**kwargs)


def test_bad_anisotropic_parameters_raise() -> None:
    with pytest.raises(ValueError, match="sigma_y"):
        AnisotropicGaussianBlur(1.0, -2.0)
    with pytest.raises(ValueError, match="kernel"):
        filter2d(torch.zeros(2, 3, 8, 8), torch.ones(3, 4, 4))


def test_filter2d_sized_equals_filter2d_on_zero_padded_kernels() -> None:
    from dil_optim.augment.blur import filter2d_sized
    from dil_optim.augment.kernels import MixedKernelSampler

    x = natural_batch(6, 32, torch.float64)
    sampler = MixedKernelSampler(["iso", "aniso", "plateau_aniso"], [1, 1, 1], sinc_prob=0.3)
    k, sizes = sampler.sample_with_sizes(6, gen(9), x.device, torch.float64)
    assert len(torch.unique(sizes)) > 1
    torch.testing.assert_close(filter2d_sized(x, k, sizes), filter2d(x, k), atol=1e-13, rtol=0)
