"""The degradation contract, checked on one instance of every family.

Seeded determinism, different seeds differ, inputs never mutated, shape / dtype / device /
range preserved, a repr that names the parameters, and clear errors on bad input.
"""

from __future__ import annotations

import math

import pytest
import torch

import dil_optim.augment as A

from ._helpers import gen, natural_batch

FAMILIES = {
    "awgn": lambda: A.GaussianNoise((5, 20), gray_prob=0.3),
    "poisson": lambda: A.PoissonNoise((0.05, 3), gray_prob=0.4),
    "blur": lambda: A.GaussianBlur((1, 4)),
    "aniso_blur": lambda: A.AnisotropicGaussianBlur((0.5, 3), (0.5, 3)),
    "jpeg": lambda: A.JPEG((30, 95)),
    "hybrid": lambda: A.HybridDistortion("severe"),
    "realesrgan1": lambda: A.RealESRGANDegradation(1, scale=2),
    "realesrgan2": lambda: A.RealESRGANDegradation(2, scale=2),
    "isp": lambda: A.CameraNoise("GRBG"),
    "compose": lambda: A.Compose([A.GaussianBlur(1.5), A.GaussianNoise(10), A.JPEG(50)]),
}


@pytest.fixture(scope="module")
def batch() -> torch.Tensor:
    return natural_batch(3, 32)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_same_seed_same_output_and_seeds_differ(family: str, batch: torch.Tensor) -> None:
    deg = FAMILIES[family]()
    a = deg(batch, gen(3))
    b = deg(batch, gen(3))
    c = deg(batch, gen(4))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_input_not_mutated_and_output_is_new(family: str, batch: torch.Tensor) -> None:
    x = batch.clone()
    out = FAMILIES[family]()(x, gen(0))
    assert torch.equal(x, batch)
    assert out.data_ptr() != x.data_ptr()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("family", list(FAMILIES))
def test_shape_dtype_range_device(family: str, dtype: torch.dtype, batch: torch.Tensor) -> None:
    deg = FAMILIES[family]()
    x = batch.to(dtype)
    out = deg(x, gen(1))
    h, w = deg.output_size(*x.shape[-2:])
    assert out.shape == (*x.shape[:2], h, w)
    assert out.dtype == dtype
    assert out.device == x.device
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    assert torch.isfinite(out).all()
    if not family.startswith("realesrgan"):
        assert (h, w) == tuple(x.shape[-2:])


@pytest.mark.parametrize("family", list(FAMILIES))
def test_default_generator_works(family: str, batch: torch.Tensor) -> None:
    torch.manual_seed(0)
    a = FAMILIES[family]()(batch)
    torch.manual_seed(0)
    b = FAMILIES[family]()(batch)
    assert torch.equal(a, b)  # without a generator, PyTorch's default RNG is used


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("family", list(FAMILIES))
def test_cuda_matches_cpu_with_cpu_generator(family: str, batch: torch.Tensor) -> None:
    deg = FAMILIES[family]()
    x = batch.double()
    cpu = deg(x, gen(5))
    cuda = deg(x.cuda(), gen(5))
    assert cuda.device.type == "cuda"
    # JPEG/rounding steps may flip a level where CUDA float maths differ in the last bit
    assert (cuda.cpu() - cpu).abs().mean() < 2e-3


@pytest.mark.parametrize("family", list(FAMILIES))
def test_repr_names_parameters(family: str) -> None:
    text = repr(FAMILIES[family]())
    assert text.startswith(type(FAMILIES[family]()).__name__ + "(")
    assert "=" in text or family == "compose"


def test_repr_shows_values() -> None:
    assert repr(A.GaussianNoise(15)) == "GaussianNoise(sigma=15, gray_prob=0, clip=True)"
    assert "sigma=(1, 4)" in repr(A.GaussianBlur((1, 4)))
    assert "quality=(30, 95)" in repr(A.JPEG((30, 95)))
    assert "pattern='RGGB'" in repr(A.CameraNoise("rggb"))
    assert "level='mild'" in repr(A.HybridDistortion("mild"))
    assert "order=2, scale=4" in repr(A.RealESRGANDegradation(2))


@pytest.mark.parametrize("family", list(FAMILIES))
def test_bad_inputs_raise_clear_errors(family: str, batch: torch.Tensor) -> None:
    deg = FAMILIES[family]()
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        deg(batch[0])  # 3-D
    with pytest.raises(TypeError, match="floating-point"):
        deg((batch * 255).to(torch.uint8))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        deg(batch * 2.0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        deg(torch.full_like(batch, math.nan))
    with pytest.raises(TypeError, match="Tensor"):
        deg(batch.numpy())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Generator"):
        deg(batch, 3)  # type: ignore[arg-type]


@pytest.mark.parametrize("family", ["jpeg", "hybrid", "isp", "realesrgan1"])
def test_channel_count_checked(family: str, batch: torch.Tensor) -> None:
    two = batch[:, :2]
    with pytest.raises(ValueError, match="channels"):
        FAMILIES[family]()(two)
