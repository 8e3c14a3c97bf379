"""Rain streaks: measured streak statistics against their parameters, seeding, contract."""

from __future__ import annotations

import math

import pytest
import torch

from dil_optim.augment import ConfounderSet
from dil_optim.augment.rain import (
    RAIN_STYLES,
    TRAIN_RAIN_STYLES,
    UNSEEN_RAIN_STYLE,
    RainStreaks,
    rain_style,
    streak_kernels,
)

from ._helpers import gen, natural_batch

GREY = torch.full((4, 3, 128, 128), 0.4, dtype=torch.float64)


def _orientation_deg(layer: torch.Tensor, r: int = 14) -> float:
    """Streak direction of a (N, 1, H, W) layer, in degrees from the vertical with the module's
    sign convention (positive: leaning right going down): the principal axis of the central
    ridge of its autocorrelation (values above a quarter of the peak, within r pixels)."""
    z = layer - layer.mean(dim=(-2, -1), keepdim=True)
    f = torch.fft.rfft2(z)
    ac = torch.fft.fftshift(torch.fft.irfft2(f.abs() ** 2, s=z.shape[-2:]).sum(dim=(0, 1)))
    h, w = ac.shape
    win = ac[h // 2 - r:h // 2 + r + 1, w // 2 - r:w // 2 + r + 1]
    win = (win - 0.25 * win.max()).clamp_min(0)
    t = torch.arange(-r, r + 1, dtype=win.dtype)
    v, u = torch.meshgrid(t, t, indexing="ij")
    cuu, cvv, cuv = float((win * u * u).sum()), float((win * v * v).sum()), float((win * u * v).sum())
    phi = 0.5 * math.degrees(math.atan2(2 * cuv, cuu - cvv))  # axis angle from the x axis
    # direction (sin a, cos a) makes the angle 90 - a with the x axis
    return ((90.0 - phi) + 90.0) % 180.0 - 90.0


@pytest.mark.parametrize("angle", [-40.0, -15.0, 0.0, 20.0, 35.0, 60.0])
def test_measured_orientation_follows_angle(angle: float) -> None:
    deg = RainStreaks(density=0.004, length=30, angle=angle, width=1.5, blend=1.0)
    layer = (deg(GREY, gen(0)) - GREY)[:, :1]
    assert abs(_orientation_deg(layer) - angle) < 1.0  # measured: within 0.2 degrees


def test_measured_orientation_of_a_style_lies_in_its_range() -> None:
    lo, hi = RAIN_STYLES[UNSEEN_RAIN_STYLE]["angle"]
    deg = rain_style(UNSEEN_RAIN_STYLE)
    x = torch.full((1, 3, 192, 192), 0.3, dtype=torch.float64)
    for seed in range(3):
        a = _orientation_deg((deg(x, gen(seed)) - x)[:, :1])
        assert lo - 1 <= a <= hi + 1


@pytest.mark.parametrize(("density", "length", "width"), [(0.002, 12, 1.0), (0.004, 20, 1.5), (0.002, 30, 2.5),
                                                          (0.01, 16, 1.0)])
def test_coverage_follows_density_length_width(density: float, length: float, width: float) -> None:
    # P(pixel touched) = 1 - (1 - density) ** A, A = non-zero taps of the line kernel (about length * width)
    deg = RainStreaks(density=density, length=length, angle=10.0, width=width, blend=1.0)
    out = deg(GREY, gen(1))
    covered = float(((out - GREY)[:, 0] > 0).double().mean())
    k = streak_kernels(torch.tensor([float(length)]), torch.tensor([float(width)]), torch.tensor([10.0]), deg.radius)
    taps = int((k > 0).sum())
    assert 0.8 * length * width < taps < 1.6 * (length + 2) * (width + 2)
    expected = 1 - (1 - density) ** taps
    # 65,536 pixels, strongly correlated along streaks: allow 10% relative
    assert abs(covered / expected - 1) < 0.10, (covered, expected)


def test_coverage_increases_with_density() -> None:
    cov = [float(((RainStreaks(density=d, length=20, angle=0, width=1.5, blend=1)(GREY, gen(2)) - GREY) > 0)
                 .double().mean()) for d in (0.001, 0.003, 0.009)]
    assert cov[0] < cov[1] < cov[2]


@pytest.mark.parametrize("blend", [0.2, 0.5, 0.9])
def test_brightness_increase_is_linear_in_blend(blend: float) -> None:
    # a fixed blend draws no random numbers: the same seed gives the same streak layer S, and
    # the increase blend * S * (1 - x) is exactly proportional to blend
    full = RainStreaks(density=0.005, length=20, angle=5, width=1.5, blend=1.0)(GREY, gen(3)) - GREY
    part = RainStreaks(density=0.005, length=20, angle=5, width=1.5, blend=blend)(GREY, gen(3)) - GREY
    torch.testing.assert_close(part, blend * full, rtol=1e-9, atol=1e-12)
    assert float(part.min()) >= 0


def test_streak_brightness_bounded_by_blend_and_screen_blending() -> None:
    out = RainStreaks(density=0.01, length=20, angle=0, width=2, blend=0.7)(GREY, gen(4))
    inc = out - GREY
    assert float(inc.max()) <= 0.7 * (1 - 0.4) + 1e-12  # S <= 1
    assert float(inc.max()) > 0.6 * 0.7 * (1 - 0.4)  # full-intensity streak cores exist
    assert torch.equal(out[:, 0], out[:, 1]) and torch.equal(out[:, 1], out[:, 2])  # achromatic on grey


def test_streak_length_measured_on_a_single_streak() -> None:
    # one seed on a blank canvas: the streak layer of a vertical streak is length pixels tall (+ ramps)
    for length in (9.0, 21.0):
        deg = RainStreaks(density=1.0, length=length, angle=0, width=1, blend=1)
        k = streak_kernels(torch.tensor([length]), torch.tensor([1.0]), torch.tensor([0.0]), deg.radius)[0]
        rows = (k.sum(dim=1) > 0.5).sum()
        assert int(rows) == int(length)


def test_determinism_by_seed_and_no_mutation() -> None:
    x = natural_batch(4, 64)
    before = x.clone()
    deg = rain_style("streaks")
    a, b = deg(x, gen(7)), deg(x, gen(7))
    assert torch.equal(a, b)
    assert not torch.equal(a, deg(x, gen(8)))
    assert torch.equal(x, before)
    assert a.shape == x.shape and a.dtype == x.dtype
    assert float(a.min()) >= 0 and float(a.max()) <= 1
    assert bool((a >= x - 1e-7).all())  # rain only brightens


def test_per_sample_parameters_differ_and_batch_independent_of_kernel_size() -> None:
    deg = rain_style("heavy")
    p = deg.params(16, gen(0), torch.device("cpu"))
    lo, hi = RAIN_STYLES["heavy"]["angle"]
    assert float(p["angle"].std()) > 0 and lo <= float(p["angle"].min()) and float(p["angle"].max()) <= hi


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_dtypes_and_shapes(dtype: torch.dtype) -> None:
    x = natural_batch(2, 48).to(dtype)
    out = rain_style("drizzle")(x, gen(0))
    assert out.dtype == dtype and out.shape == x.shape
    one = RainStreaks()(natural_batch(1, 32)[:, :1], gen(0))
    assert one.shape == (1, 1, 32, 32)


def test_styles_unseen_outside_training_ranges() -> None:
    unseen = RAIN_STYLES[UNSEEN_RAIN_STYLE]
    for key, (lo, hi) in unseen.items():
        t_lo = min(RAIN_STYLES[s][key][0] for s in TRAIN_RAIN_STYLES)
        t_hi = max(RAIN_STYLES[s][key][1] for s in TRAIN_RAIN_STYLES)
        assert hi < t_lo or lo > t_hi, key


def test_bad_parameters_and_style() -> None:
    with pytest.raises(ValueError):
        RainStreaks(density=1.5)
    with pytest.raises(ValueError):
        RainStreaks(angle=(-90, 0))
    with pytest.raises(ValueError):
        rain_style("snow")
    with pytest.raises(TypeError):
        RainStreaks()(natural_batch(1, 32), generator=3)  # type: ignore[arg-type]


def test_as_confounders() -> None:
    cs = ConfounderSet([rain_style(s) for s in TRAIN_RAIN_STYLES])
    pairs = cs(natural_batch(2, 32), gen(0))
    assert cs.names == ["rain_drizzle", "rain_streaks", "rain_heavy"]
    assert all(d.shape == c.shape for d, c in pairs)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cpu_generator_same_on_cuda() -> None:
    x = natural_batch(2, 48)
    a = rain_style("streaks")(x, gen(1))
    b = rain_style("streaks")(x.cuda(), gen(1)).cpu()
    assert float((a - b).abs().max()) < 1e-5
