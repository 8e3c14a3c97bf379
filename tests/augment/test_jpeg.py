"""Real JPEG: near-lossless at quality 100, lossy at 10, consistent with Pillow's libjpeg."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from dil_optim.augment import JPEG, jpeg_compress

from ._helpers import gen, natural_batch, psnr


def test_quality_100_is_near_lossless_and_10_is_not() -> None:
    x = (natural_batch(4, 64) * 255).round() / 255
    hi = JPEG(100)(x)
    lo = JPEG(10)(x)
    assert psnr(hi, x) > 40.0  # only 4:2:0 chroma subsampling and rounding are lost
    assert psnr(lo, x) < 32.0
    assert psnr(hi, x) - psnr(lo, x) > 10.0


def test_psnr_increases_with_quality() -> None:
    x = natural_batch(4, 64)
    scores = [psnr(JPEG(q)(x), x) for q in (10, 30, 50, 70, 90)]
    assert scores == sorted(scores)


def test_output_is_eight_bit() -> None:
    out = JPEG(50)(natural_batch(2, 32, torch.float64))
    torch.testing.assert_close(out * 255, (out * 255).round(), atol=1e-9, rtol=0)


def test_matches_pillow_at_the_same_quality() -> None:
    x = natural_batch(2, 64)
    ours = JPEG(40)(x)
    for i in range(2):
        u8 = (x[i] * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
        buf = io.BytesIO()
        Image.fromarray(u8).save(buf, format="JPEG", quality=40)
        ref = torch.from_numpy(np.array(Image.open(io.BytesIO(buf.getvalue())))).permute(2, 0, 1) / 255.0
        # both use libjpeg(-turbo) with the standard tables and 4:2:0; decoders may differ by 1 level
        assert psnr(ours[i], ref) > 45.0


def test_per_sample_quality_and_grey_images() -> None:
    x = natural_batch(8, 32)
    deg = JPEG((10, 90))
    out = deg(x, gen(0))
    q = deg.quality.sample(8, gen(0), x.device).round()
    for i in range(8):
        torch.testing.assert_close(out[i:i + 1], jpeg_compress(x[i:i + 1], int(q[i])))
    grey = JPEG(50)(x[:, :1])
    assert grey.shape == (8, 1, 32, 32)


@pytest.mark.parametrize("bad", [0, 101, (0, 50), (50, 120), -5, (90, 10)])
def test_quality_outside_1_100_raises(bad: object) -> None:
    with pytest.raises(ValueError, match="quality"):
        JPEG(bad)  # type: ignore[arg-type]


def test_functional_checks() -> None:
    x = natural_batch(2, 16)
    with pytest.raises(ValueError, match="quality"):
        jpeg_compress(x, 0)
    with pytest.raises(ValueError, match="shape"):
        jpeg_compress(x, torch.tensor([50.0]))
    with pytest.raises(ValueError, match="channels"):
        jpeg_compress(torch.cat([x, x], 1), 50)


def test_codec_adapter_backends_agree_byte_for_byte():
    """TorchCodec (when installed) decodes to exactly torchvision's pixels at every quality."""
    from dil_optim.augment import _jpeg_codec

    tv, tc = _jpeg_codec._torchvision(), _jpeg_codec._torchcodec()
    if tv is None or tc is None:
        pytest.skip("needs both torchvision's codecs and torchcodec")
    g = torch.Generator().manual_seed(0)
    images = [(torch.rand(c, 24, 40, generator=g) * 255).to(torch.uint8) for c in (3, 3, 1)]
    for q in (5, 50, 95):
        for a, b in zip(tv(images, q), tc(images, q)):
            assert torch.equal(a, b)


def test_codec_choice_from_the_environment(monkeypatch):
    from dil_optim.augment import _jpeg_codec

    monkeypatch.setattr(_jpeg_codec, "_chosen", None)
    monkeypatch.setenv("DIL_OPTIM_JPEG_CODEC", "pillow")
    with pytest.raises(ValueError, match="DIL_OPTIM_JPEG_CODEC = 'pillow'"):
        _jpeg_codec.codec_name()
    monkeypatch.setattr(_jpeg_codec, "_chosen", None)
    monkeypatch.setenv("DIL_OPTIM_JPEG_CODEC", "torchvision")
    assert _jpeg_codec.codec_name() == "torchvision"
    monkeypatch.setattr(_jpeg_codec, "_chosen", None)
