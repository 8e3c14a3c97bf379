"""Real-ESRGAN degradation model: sizes, 8-bit output, configuration and the confounder split."""

from __future__ import annotations

import pytest
import torch

from dil_optim.augment import REALESRGAN_X4PLUS, Downsample, RealESRGANDegradation, realesrgan_confounders

from ._helpers import gen, natural_batch, psnr


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("scale", [1, 2, 4])
def test_output_size_and_eight_bit_values(order: int, scale: int) -> None:
    x = natural_batch(2, 32)
    deg = RealESRGANDegradation(order, scale)
    out = deg(x, gen(order * 10 + scale))
    assert out.shape == (2, 3, 32 // scale, 32 // scale) and deg.output_size(32, 32) == (32 // scale, 32 // scale)
    torch.testing.assert_close(out * 255, (out * 255).round(), atol=1e-4, rtol=0)


def test_non_divisible_size_floors() -> None:
    out = RealESRGANDegradation(1, 4)(natural_batch(1, 30), gen(0))
    assert out.shape[-2:] == (7, 7)


def test_degrades_but_keeps_content() -> None:
    x = natural_batch(4, 64)
    lr_ref = Downsample(4, "area")(x)
    out = RealESRGANDegradation(1, 4)(x, gen(1))
    p = psnr(out, lr_ref)
    assert 15.0 < p < 40.0  # visibly degraded, but the same picture


def test_config_matches_the_authors_x4plus_options() -> None:
    c = REALESRGAN_X4PLUS
    assert c["kernel_prob"] == (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)
    assert c["resize_prob"] == (0.2, 0.7, 0.1) and c["resize_range"] == (0.15, 1.5)
    assert c["noise_range"] == (1.0, 30.0) and c["poisson_scale_range"] == (0.05, 3.0)
    assert c["gray_noise_prob"] == 0.4 and c["jpeg_range"] == (30.0, 95.0)
    assert c["blur_sigma2"] == (0.2, 1.5) and c["final_sinc_prob"] == 0.8


def test_gaussian_only_differs_from_poisson_only() -> None:
    x = natural_batch(2, 32)
    a = RealESRGANDegradation(1, 2, gaussian_noise_prob=1.0)(x, gen(3))
    b = RealESRGANDegradation(1, 2, gaussian_noise_prob=0.0)(x, gen(3))
    assert not torch.equal(a, b)


def test_clean_pipeline_without_noise_or_blur_is_a_resize() -> None:
    # turn every random stage off: identity kernels would need sigma -> 0, so use tiny sigmas,
    # no resize (keep), JPEG 95-95 and zero noise; the result is close to a plain downsampling
    x = natural_batch(2, 32)
    deg = RealESRGANDegradation(1, 1, blur_sigma=(0.2, 0.2 + 1e-6), kernel_list=("iso",), kernel_prob=(1.0,),
                                sinc_prob=0.0, resize_prob=(0.0, 0.0, 1.0), noise_range=(0.0, 0.0),
                                gaussian_noise_prob=1.0, jpeg_range=(95.0, 95.0))
    assert psnr(deg(x, gen(4)), x) > 35.0


def test_confounder_split() -> None:
    cons = realesrgan_confounders(1, 4)
    assert [c.name for c in cons] == ["realesrgan1_isoblur_gaussiannoise", "realesrgan1_isoblur_poissonnoise",
                                      "realesrgan1_anisoblur_gaussiannoise", "realesrgan1_anisoblur_poissonnoise"]
    iso, aniso = cons[0].cfg, cons[2].cfg
    assert set(iso["kernel_list"]) == {"iso", "generalized_iso", "plateau_iso"} and iso["sinc_prob"] == 0.1
    assert set(aniso["kernel_list"]) == {"aniso", "generalized_aniso", "plateau_aniso"} and aniso["sinc_prob"] == 0.0
    assert iso["kernel_prob"] == (0.45, 0.12, 0.12) and aniso["kernel_prob"] == (0.25, 0.03, 0.03)
    assert cons[0].cfg["gaussian_noise_prob"] == 1.0 and cons[1].cfg["gaussian_noise_prob"] == 0.0
    second = realesrgan_confounders(2, 4)
    assert second[2].cfg["kernel_list2"] == second[2].cfg["kernel_list"] and second[3].cfg["gaussian_noise_prob2"] == 0.0
    fam = realesrgan_confounders(1, 4, split="family")
    assert len(fam) == 8 and fam[6].cfg["sinc_prob"] == 1.0
    with pytest.raises(ValueError, match="split"):
        realesrgan_confounders(1, 4, split="colour")


@pytest.mark.parametrize("kwargs,match", [
    ({"order": 3}, "order"), ({"scale": 0}, "scale"), ({"jpeg_range": (0, 95)}, "jpeg_range"),
    ({"gaussian_noise_prob": 1.5}, "gaussian_noise_prob"), ({"blur": 1}, "unknown"),
    ({"noise_range": (-1, 5)}, "noise_range"), ({"resize_prob": (1, 0)}, "resize_prob"),
])
def test_bad_options_raise(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        RealESRGANDegradation(**kwargs)


def test_too_small_input_raises() -> None:
    with pytest.raises(ValueError, match="smaller than the scale"):
        RealESRGANDegradation(1, 4)(torch.rand(1, 3, 3, 3))


@pytest.mark.parametrize("order", [1, 2])
def test_batched_and_per_sample_modes(order: int) -> None:
    # the default draws resize factor/mode, noise type and step order once per batch (the authors'
    # code) and processes the batch at once; per_sample=True processes each sample with its own draws
    x = natural_batch(4, 64)
    before = x.clone()
    fast = RealESRGANDegradation(order, 4)
    slow = RealESRGANDegradation(order, 4, per_sample=True)
    a, b = fast(x, gen(3)), slow(x, gen(3))
    assert a.shape == b.shape == (4, 3, 16, 16) and torch.equal(x, before)
    assert torch.equal(a, fast(x, gen(3))) and torch.equal(b, slow(x, gen(3)))
    torch.testing.assert_close(a * 255, (a * 255).round(), atol=1e-4, rtol=0)
    assert "per_sample=True" in repr(slow) and "per_sample" not in repr(fast)
    # a one-sample batch takes the same decisions either way
    torch.testing.assert_close(fast(x[:1], gen(5)), slow(x[:1], gen(5)), atol=1e-6, rtol=0)
