"""Real-ESRGAN kernel families against their closed forms."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import special

from dil_optim.augment import KERNEL_TYPES, MixedKernelSampler, bivariate_kernels, sinc_kernels

from ._helpers import gen

D = torch.float64


def t(*v: float) -> torch.Tensor:
    return torch.tensor(v, dtype=D)


def test_generalized_with_beta_one_is_gaussian_and_plateau_formula() -> None:
    args = (t(1.5), t(0.8), t(0.3))
    size = torch.tensor([21])
    gauss = bivariate_kernels("gaussian", *args, t(1.0), size)
    gen1 = bivariate_kernels("generalized", *args, t(1.0), size)
    torch.testing.assert_close(gauss, gen1)
    plat = bivariate_kernels("plateau", t(2.0), t(2.0), t(0.0), t(1.5), size)[0]
    # isotropic plateau: k ~ 1 / (1 + (r^2 / s^2)^beta); compare ratios to the centre
    for (dy, dx) in [(0, 1), (2, 3), (5, 0)]:
        q = (dx * dx + dy * dy) / 4.0
        assert abs(float(plat[10 + dy, 10 + dx] / plat[10, 10]) - 1 / (1 + q**1.5)) < 1e-12


@pytest.mark.parametrize("family", ["gaussian", "generalized", "plateau"])
def test_kernels_sum_to_one_and_respect_their_support(family: str) -> None:
    size = torch.tensor([7, 13, 21])
    k = bivariate_kernels(family, t(1, 2, 3), t(2, 1, 0.5), t(0.1, 1.0, -2.0), t(0.7, 1.3, 3.0), size)
    torch.testing.assert_close(k.sum(dim=(1, 2)), torch.ones(3, dtype=D))
    assert float(k[0, :7].abs().sum() + k[0, 14:].abs().sum() + k[0, :, :7].abs().sum()) == 0.0
    assert float(k[1, :4].abs().sum()) == 0.0 and float(k[1, 4:17, 4:17].min()) > 0


def test_isotropic_kernels_are_symmetric() -> None:
    k = bivariate_kernels("generalized", t(1.7), t(1.7), t(0.0), t(2.2), torch.tensor([21]))[0]
    torch.testing.assert_close(k, k.T)
    torch.testing.assert_close(k, k.flip(0))


@pytest.mark.parametrize("omega", [math.pi / 5, math.pi / 3, 0.5, math.pi / 2, 2.0, 2.5, 3.0, math.pi])
@pytest.mark.parametrize("size", [7, 13, 21])
def test_sinc_kernel_matches_bessel_formula(omega: float, size: int) -> None:
    """BasicSR's circular_lowpass_kernel (scipy's j1), every cut-off of Real-ESRGAN's ranges."""
    k = sinc_kernels(t(omega), torch.tensor([size]))[0]
    r0 = size // 2
    r = torch.arange(-r0, r0 + 1, dtype=D)
    yy, xx = torch.meshgrid(r, r, indexing="ij")
    rad = torch.sqrt(xx**2 + yy**2).numpy()
    ref = torch.from_numpy(omega * special.j1(omega * rad) / (2 * math.pi * rad + (rad == 0)))
    ref[r0, r0] = omega**2 / (4 * math.pi)
    ref = ref / ref.sum()
    pad = (21 - size) // 2
    ref = torch.nn.functional.pad(ref, (pad, pad, pad, pad))  # zero-padded to the 21x21 grid
    # J1 in float64 to round-off: the kernels agree with BasicSR's to 1e-14 (torch.special.bessel_j1
    # would leave up to 2.6e-7)
    torch.testing.assert_close(k, ref, atol=1e-14, rtol=0)
    assert float(k.min()) < 0 or size == 7  # ringing lobes


def test_bessel_j1_is_accurate_to_round_off() -> None:
    from dil_optim.augment import bessel_j1

    x = torch.linspace(-60, 60, 24001, dtype=D)
    torch.testing.assert_close(bessel_j1(x), torch.from_numpy(special.j1(x.numpy())), atol=3e-15, rtol=0)
    big = torch.tensor([1000.0, 333.3], dtype=D)
    torch.testing.assert_close(bessel_j1(big), torch.from_numpy(special.j1(big.numpy())), atol=1e-14, rtol=0)
    assert bessel_j1(torch.tensor([1.5], dtype=torch.float32)).dtype == torch.float32
    with pytest.raises(ValueError, match="finite"):
        bessel_j1(torch.tensor([math.inf], dtype=D))


def test_mixed_sampler_draws_the_listed_families() -> None:
    s = MixedKernelSampler(["iso"], [1.0], sigma_range=(0.2, 3.0), sinc_prob=0.0)
    k = s.sample(16, gen(0), torch.device("cpu"), D)
    torch.testing.assert_close(k, k.transpose(1, 2))  # isotropic
    torch.testing.assert_close(k.sum(dim=(1, 2)), torch.ones(16, dtype=D))
    a = MixedKernelSampler(["aniso"], [1.0], sinc_prob=0.0).sample(16, gen(0), torch.device("cpu"), D)
    assert float((a - a.transpose(1, 2)).abs().amax(dim=(1, 2)).min()) > 0  # anisotropic, rotated
    sinc = MixedKernelSampler(["iso"], [1.0], sinc_prob=1.0).sample(8, gen(1), torch.device("cpu"), D)
    assert bool((sinc.amin(dim=(1, 2)) < 0).all())  # every kernel is a sinc (negative lobes)


def test_mixed_sampler_family_frequencies() -> None:
    s = MixedKernelSampler(["iso", "aniso"], [0.75, 0.25], sinc_prob=0.0)
    k = s.sample(400, gen(2), torch.device("cpu"), D)
    aniso = ((k - k.transpose(1, 2)).abs().amax(dim=(1, 2)) > 1e-9).to(D).mean()
    assert abs(float(aniso) - 0.25) < 0.07  # 400 draws: s.e. 0.022


@pytest.mark.parametrize("kwargs,match", [
    ({"kernel_list": ["box"], "kernel_prob": [1.0]}, "kernel_list"),
    ({"kernel_list": ["iso"], "kernel_prob": [1.0, 2.0]}, "kernel_prob"),
    ({"kernel_list": ["iso"], "kernel_prob": [1.0], "sinc_prob": 2.0}, "sinc_prob"),
    ({"kernel_list": ["iso"], "kernel_prob": [1.0], "sigma_range": (3.0, 1.0)}, "sigma_range"),
])
def test_bad_sampler_arguments_raise(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        MixedKernelSampler(**kwargs)


def test_kernel_type_names() -> None:
    assert set(KERNEL_TYPES) == {"iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso",
                                 "plateau_aniso", "sinc"}
    with pytest.raises(ValueError, match="family"):
        bivariate_kernels("box", t(1), t(1), t(0), t(1), torch.tensor([7]))
