from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dil_optim.data import load_image
from dil_optim.metrics import psnr, quantize_8bit, rgb_to_y, ssim

skmetrics = pytest.importorskip("skimage.metrics")
skcolor = pytest.importorskip("skimage.color")

REPO = Path(__file__).resolve().parents[1]


def _shared() -> Path | None:
    env = os.environ.get("DIL_OPTIM_TEST_DATASETS")
    path = Path(env) if env else REPO.parent / "shared" / "datasets"
    return path if (path / "MANIFEST.tsv").is_file() else None


# --- hand-checked values ----------------------------------------------------------------

def const(rgb: tuple[float, float, float], h: int = 16, w: int = 16) -> torch.Tensor:
    return torch.tensor(rgb, dtype=torch.float32).view(1, 3, 1, 1).expand(1, 3, h, w).clone()


def test_rgb_to_y_bt601_values() -> None:
    cases = {(0, 0, 0): 16.0, (1, 1, 1): 235.0, (1, 0, 0): 81.481, (0, 1, 0): 144.553,
             (0, 0, 1): 40.966, (0.5, 0.5, 0.5): 125.5}
    for rgb, y255 in cases.items():
        y = rgb_to_y(const(rgb, 2, 3).double())
        assert y.shape == (1, 1, 2, 3)
        assert torch.allclose(y * 255, torch.full_like(y, y255), atol=1e-9, rtol=0), rgb


def test_psnr_closed_forms() -> None:
    t = const((0.2, 0.4, 0.6))
    for k in (1, 2, 5, 40):
        o = t + k / 255
        assert float(psnr(o, t)) == pytest.approx(20 * math.log10(255 / k), abs=1e-9)
    assert float(psnr(t + 1 / 255, t)) == pytest.approx(48.1308036087, abs=1e-8)
    # one pixel of one channel off by 255: MSE = 255^2 / (C H W)
    zero, one = torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8)
    one[0, 2, 5, 5] = 1.0
    assert float(psnr(one, zero)) == pytest.approx(10 * math.log10(3 * 8 * 8), abs=1e-9)


def test_psnr_on_y_closed_form() -> None:
    black = const((0, 0, 0))
    for k in (1, 3):
        red = const((k / 255, 0, 0))
        dy = 65.481 * k / 255  # luma difference on the 0-255 scale
        assert float(psnr(red, black, y_channel=True)) == pytest.approx(20 * math.log10(255 / dy), abs=1e-9)
    assert float(psnr(const((1 / 255, 0, 0)), black, y_channel=True)) == pytest.approx(59.9393, abs=1e-4)
    # grey level g: Y difference is 219/255 of the RGB difference
    g = const((100 / 255, 100 / 255, 100 / 255))
    assert float(psnr(g + 10 / 255, g, y_channel=True)) == pytest.approx(20 * math.log10(255 / (10 * 219 / 255)), abs=1e-9)


def test_ssim_constant_images_closed_form() -> None:
    a, b = const((100 / 255,) * 3), const((110 / 255,) * 3)
    c1 = (0.01 * 255) ** 2
    expected = (2 * 100 * 110 + c1) / (100**2 + 110**2 + c1)
    assert float(ssim(a, b)) == pytest.approx(expected, abs=1e-12)
    assert float(ssim(a, a)) == pytest.approx(1.0, abs=1e-12)


def test_rounding_clipping_and_identity() -> None:
    t = torch.randint(0, 256, (2, 3, 20, 20), generator=torch.Generator().manual_seed(0)).float() / 255
    assert torch.isinf(psnr(t + 0.49 / 255, t)).all()
    assert torch.allclose(ssim(t - 0.49 / 255, t), torch.ones(2, dtype=torch.float64))
    ones = torch.ones(1, 3, 12, 12)
    assert torch.isinf(psnr(ones * 1.3, ones)).all() and torch.isinf(psnr(-ones, 0 * ones)).all()
    q = quantize_8bit(torch.tensor([-0.2, 0.4 / 255, 0.6 / 255, 254.7 / 255, 7.0]))
    assert torch.equal(q, torch.tensor([0.0, 0.0, 1.0, 255.0, 255.0], dtype=torch.float64))


def test_crop_border_ignores_the_border() -> None:
    t = torch.rand(1, 3, 30, 30, generator=torch.Generator().manual_seed(1))
    o = t.clone()
    o[..., :2, :] = 0
    o[..., :, -2:] = 1
    assert math.isfinite(float(psnr(o, t))) and torch.isinf(psnr(o, t, crop_border=2)).all()
    assert float(ssim(o, t, crop_border=2)) == pytest.approx(1.0, abs=1e-12)
    assert float(ssim(o, t)) < 1 - 1e-3


def test_batch_dtype_device_and_no_mutation() -> None:
    g = torch.Generator().manual_seed(2)
    t = torch.rand(4, 3, 24, 28, generator=g)
    o = (t + 0.1 * torch.randn(t.shape, generator=g)).requires_grad_(True)
    o_copy, t_copy = o.detach().clone(), t.clone()
    for fn in (psnr, ssim):
        for y in (False, True):
            batch = fn(o, t, y_channel=y, crop_border=1)
            assert batch.shape == (4,) and batch.dtype == torch.float64 and not batch.requires_grad
            single = torch.cat([fn(o[i:i + 1], t[i:i + 1], y_channel=y, crop_border=1) for i in range(4)])
            assert torch.allclose(batch, single, rtol=0, atol=1e-12)
            # 8-bit valued inputs survive float16/bfloat16 exactly through the rounding
            o8, t8 = quantize_8bit(o) / 255, quantize_8bit(t) / 255
            ref = fn(o8, t8, y_channel=y, crop_border=1)
            assert torch.allclose(ref, batch, rtol=0, atol=1e-12)
            for dt in (torch.float16, torch.bfloat16, torch.float32):
                assert torch.allclose(fn(o8.to(dt), t8.to(dt), y_channel=y, crop_border=1), ref, rtol=0, atol=1e-12)
    assert torch.equal(o.detach(), o_copy) and torch.equal(t, t_copy)
    # any channel count on RGB-less data
    assert psnr(t[:, :1], t[:, :1]).shape == (4,)


def test_bad_inputs() -> None:
    x = torch.rand(1, 3, 16, 16)
    with pytest.raises(ValueError, match="differ in shape"):
        psnr(x, x[..., :15])
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        ssim(x[0], x[0])
    with pytest.raises(TypeError, match="float"):
        psnr((x * 255).to(torch.uint8), (x * 255).to(torch.uint8))
    with pytest.raises(TypeError):
        psnr(x.numpy(), x)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="3 \\(RGB\\) channels"):
        psnr(x[:, :1], x[:, :1], y_channel=True)
    with pytest.raises(ValueError, match="crop_border"):
        psnr(x, x, crop_border=-1)
    with pytest.raises(ValueError, match="leave less than 11x11"):
        ssim(x, x, crop_border=3)
    with pytest.raises(ValueError, match="empty"):
        psnr(x[:0], x[:0])


# --- agreement with scikit-image ------------------------------------------------------------

def sk_reference(out: torch.Tensor, tgt: torch.Tensor, crop: int, y: bool) -> tuple[float, float]:
    """scikit-image's values for one (3, H, W) pair, computed independently of dil_optim."""
    a = np.round(np.clip(out.permute(1, 2, 0).double().numpy(), 0, 1) * 255)
    b = np.round(np.clip(tgt.permute(1, 2, 0).double().numpy(), 0, 1) * 255)
    if y:
        a, b = skcolor.rgb2ycbcr(a / 255)[..., 0], skcolor.rgb2ycbcr(b / 255)[..., 0]
    if crop:
        a, b = a[crop:-crop, crop:-crop], b[crop:-crop, crop:-crop]
    p = skmetrics.peak_signal_noise_ratio(b, a, data_range=255)
    s = skmetrics.structural_similarity(b, a, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                        data_range=255, channel_axis=None if y else 2)
    return float(p), float(s)


def degraded_pair(x: torch.Tensor, seed: int) -> torch.Tensor:
    """Two restorations-like outputs of x: noisy (sigma 15, unclipped) and blurred + noise 50."""
    g = torch.Generator().manual_seed(seed)
    noisy = x + torch.randn(x.shape, generator=g) * 15 / 255
    k = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16
    blur = F.conv2d(F.pad(x[None], (2, 2, 2, 2), mode="replicate"), (k[:, None] * k[None, :]).expand(3, 1, 5, 5), groups=3)[0]
    heavy = blur + torch.randn(x.shape, generator=g) * 50 / 255
    return torch.stack([noisy, heavy])


ALL_MODES = ((0, False), (0, True), (4, False), (4, True))


def check_against_skimage(name: str, x: torch.Tensor, seed: int,
                          modes: tuple[tuple[int, bool], ...] = ALL_MODES) -> None:
    outs = degraded_pair(x, seed)
    tgts = torch.stack([x, x])
    for crop, y in modes:
        p = psnr(outs, tgts, crop_border=crop, y_channel=y)
        s = ssim(outs, tgts, crop_border=crop, y_channel=y)
        for i in range(2):
            p_ref, s_ref = sk_reference(outs[i], x, crop, y)
            assert abs(float(p[i]) - p_ref) < 1e-3, (name, crop, y, i, float(p[i]), p_ref)
            assert abs(float(s[i]) - s_ref) < 1e-4, (name, crop, y, i, float(s[i]), s_ref)


def test_agrees_with_skimage_on_builtin_photo() -> None:
    skdata = pytest.importorskip("skimage.data")
    x = torch.from_numpy(skdata.coffee()[:160, :200].copy()).permute(2, 0, 1).float() / 255
    check_against_skimage("coffee", x, seed=0)


REAL = ["Set5/baby.png", "Set5/bird.png", "Set5/butterfly.png", "Set5/head.png", "Set5/woman.png",
        "Set14/bridge.png", "CBSD68/101085.png", "McMaster/1.png", "Urban100/img_004.png"]


@pytest.mark.parametrize("rel", REAL)
def test_agrees_with_skimage_on_real_images(rel: str) -> None:
    root = _shared()
    if root is None:
        pytest.skip("real images not available (set DIL_OPTIM_TEST_DATASETS or provide ../shared/datasets)")
    x = load_image(root / rel)
    x = x[:, :256, :288]  # real content, small enough to keep the test fast
    # RGB uncropped and Y cropped here; all four combinations run on the built-in photo
    check_against_skimage(rel, x, seed=REAL.index(rel), modes=((0, False), (4, True)))


@pytest.mark.slow
def test_agrees_with_skimage_on_whole_set5() -> None:
    root = _shared()
    if root is None:
        pytest.skip("real images not available")
    for i, f in enumerate(sorted((root / "Set5").glob("*.png"))):
        check_against_skimage(f.name, load_image(f), seed=100 + i)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu() -> None:
    g = torch.Generator().manual_seed(3)
    t = torch.rand(3, 3, 64, 80, generator=g)
    o = (t + 0.05 * torch.randn(t.shape, generator=g)).clamp(0, 1)
    for fn in (psnr, ssim):
        for y in (False, True):
            cpu = fn(o, t, y_channel=y, crop_border=2)
            gpu = fn(o.cuda(), t.cuda(), y_channel=y, crop_border=2)
            assert gpu.device.type == "cuda"
            assert torch.allclose(gpu.cpu(), cpu, rtol=0, atol=1e-10)
