"""Camera-pipeline noise: CFA sampling, bilinear demosaicing, the noise-free round trip, the noise model."""

from __future__ import annotations

import pytest
import torch

from dil_optim.augment import CFA_PATTERNS, CameraNoise, cfa_masks, demosaic_bilinear, mosaic
from dil_optim.augment.isp import _rgb2cam

from ._helpers import gen

RGB = (0.1, 0.5, 0.9)


@pytest.mark.parametrize("pattern", CFA_PATTERNS)
def test_mosaic_samples_the_right_channel_at_each_site(pattern: str) -> None:
    x = torch.tensor(RGB).view(1, 3, 1, 1).expand(2, 3, 6, 8).contiguous()
    raw = mosaic(x, pattern)[0, 0]
    for pos, ch in enumerate(pattern):  # the 2x2 tile in reading order
        site = raw[pos // 2::2, pos % 2::2]
        assert torch.all(site == RGB["RGB".index(ch)]), (pattern, pos, ch)


@pytest.mark.parametrize("pattern", CFA_PATTERNS)
def test_masks_partition_the_sensor(pattern: str) -> None:
    m = cfa_masks(pattern, 5, 7)
    assert torch.equal(m.sum(0), torch.ones(5, 7))
    assert int(m[1].sum()) in (17, 18)  # half the sites are green
    assert int(m[0, 0::2, 0::2].sum() + m[0, 1::2, 1::2].sum() + m[0, 0::2, 1::2].sum() + m[0, 1::2, 0::2].sum()) == int(m[0].sum())


@pytest.mark.parametrize("pattern", CFA_PATTERNS)
def test_demosaic_is_exact_on_constant_and_linear_images(pattern: str) -> None:
    const = torch.tensor(RGB, dtype=torch.float64).view(1, 3, 1, 1).expand(1, 3, 10, 12)
    torch.testing.assert_close(demosaic_bilinear(mosaic(const, pattern), pattern), const)
    yy, xx = torch.meshgrid(torch.arange(10.0), torch.arange(12.0), indexing="ij")
    ramp = torch.stack([0.01 * xx + 0.02 * yy, 0.03 * xx + 0.005 * yy, 0.5 - 0.01 * xx]).unsqueeze(0).double()
    out = demosaic_bilinear(mosaic(ramp, pattern), pattern)
    torch.testing.assert_close(out[..., 1:-1, 1:-1], ramp[..., 1:-1, 1:-1])  # exact away from the border
    for pos, ch in enumerate(pattern):  # measured sites are kept unchanged everywhere
        c = "RGB".index(ch)
        torch.testing.assert_close(out[0, c, pos // 2::2, pos % 2::2], ramp[0, c, pos // 2::2, pos % 2::2])


def test_colour_matrices_map_white_to_white_and_invert() -> None:
    w = torch.rand(5, 4, generator=gen(0), dtype=torch.float64)
    m = _rgb2cam(w / w.sum(1, keepdim=True))
    torch.testing.assert_close(m.sum(dim=2), torch.ones(5, 3, dtype=torch.float64))
    torch.testing.assert_close(torch.linalg.inv(m) @ m, torch.eye(3, dtype=torch.float64).expand(5, 3, 3))


@pytest.mark.parametrize("pattern", [*CFA_PATTERNS, None])
def test_noise_free_round_trip_is_identity_on_flat_colours(pattern: str | None) -> None:
    # with sigma_s = sigma_c = 0 every stage is inverted exactly for in-gamut flat colours
    x = torch.tensor([[0.5, 0.5, 0.5], [0.4, 0.5, 0.45], [0.2, 0.25, 0.22]], dtype=torch.float64)
    x = x.view(3, 3, 1, 1).expand(3, 3, 8, 8)
    out = CameraNoise(pattern, sigma_s=0.0, sigma_c=0.0)(x, gen(1))
    torch.testing.assert_close(out, x, atol=1e-9, rtol=0)


def test_noise_is_signal_dependent() -> None:
    dark = torch.full((8, 3, 32, 32), 0.15, dtype=torch.float64)
    bright = torch.full((8, 3, 32, 32), 0.7, dtype=torch.float64)
    deg = CameraNoise("RGGB", sigma_s=0.1, sigma_c=0.0, gamma_range=1.0)
    n_dark = (deg(dark, gen(2)) - dark).std()
    n_bright = (deg(bright, gen(2)) - bright).std()
    assert n_bright > 1.5 * n_dark  # shot noise: std grows with sqrt(signal)


def test_signal_independent_noise_is_zero_mean_and_of_the_right_order() -> None:
    # gamma 1, flat grey, sigma_s 0: raw noise of std sigma_c, spread by bilinear averaging
    # (which lowers it) and the inverse colour matrix (which can raise it): same order, zero mean
    x = torch.full((8, 3, 32, 32), 0.5, dtype=torch.float64)
    out = CameraNoise("RGGB", sigma_s=0.0, sigma_c=0.02, gamma_range=1.0, wb_range=1.0)(x, gen(3))
    assert 0.005 < float((out - x).std()) < 0.05
    assert abs(float((out - x).mean())) < 2e-3


def test_patterns_give_different_noise_structure() -> None:
    x = torch.rand(2, 3, 16, 16, generator=gen(4))
    outs = [CameraNoise(p, sigma_s=0.05, sigma_c=0.01)(x, gen(5)) for p in CFA_PATTERNS]
    assert all(not torch.equal(outs[0], o) for o in outs[1:])


@pytest.mark.parametrize("kwargs,match", [({"pattern": "RGBG"}, "pattern"), ({"pattern": "XTRANS"}, "pattern"),
                                          ({"sigma_s": -0.1}, "sigma_s"), ({"sigma_c": (0.1, 0.0)}, "sigma_c"),
                                          ({"gamma_range": 0.0}, "gamma")])
def test_bad_parameters_raise(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        CameraNoise(**kwargs)


def test_shape_errors() -> None:
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        mosaic(torch.rand(1, 1, 4, 4), "RGGB")
    with pytest.raises(ValueError, match="Bayer"):
        demosaic_bilinear(torch.rand(1, 3, 4, 4), "RGGB")


def test_adjugate_inverse_matches_linalg() -> None:
    from dil_optim.augment.isp import _inv3

    m = torch.rand(6, 3, 3, generator=gen(6), dtype=torch.float64) + torch.eye(3, dtype=torch.float64)
    torch.testing.assert_close(_inv3(m), torch.linalg.inv(m))
