"""Synthetic rain streaks: a seeded, batched rain degradation with named styles.

The DIL paper's deraining task (Table 4) trains on three rain *datasets* (DID-MDN, Rain14000,
Heavy Rain) as confounders. Without those folders, :class:`RainStreaks` gives the same kind of
experiment synthetically: three styles as the training confounders and a fourth, outside all
their parameter ranges, as the unseen test (:data:`TRAIN_RAIN_STYLES`, :data:`UNSEEN_RAIN_STYLE`).

One sample is made in the manner of the usual rain renderers (a sparse seed layer smeared by a
motion-blur line, then screen-blended onto the image):

1. **seeds**: every pixel of a margin-padded canvas is a streak seed with probability
   ``density``; a seed's intensity is uniform in ``[0.6, 1]``;
2. **streaks**: the seed layer is filtered with an antialiased line segment of length
   ``length`` pixels and width ``width`` pixels, at ``angle`` degrees from the vertical
   (positive: a streak leans to the right going down, i.e. its direction in ``(x, y)`` image
   coordinates is ``(sin angle, cos angle)``); overlaps add up and the streak layer ``S`` is
   clipped to ``[0, 1]``; the canvas margin lets streaks enter from outside the frame, so
   coverage is uniform up to the borders;
3. **blending**: screen blending with strength ``blend``: ``out = x + blend * S * (1 - x)``
   (the same ``S`` on every channel: rain is achromatic), always in ``[0, 1]``.

Every parameter is a number or a ``(low, high)`` range drawn per sample. The expected fraction
of pixels a streak touches is ``1 - (1 - density) ** A`` where ``A`` is the number of non-zero
taps of the line kernel (about ``length * width``); the tests check this, the measured streak
orientation against ``angle`` and the brightness increase against ``blend``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import Degradation, ParamRange, RangeLike, rand

__all__ = ["RainStreaks", "RAIN_STYLES", "TRAIN_RAIN_STYLES", "UNSEEN_RAIN_STYLE", "rain_style", "streak_kernels"]

#: named rain styles: parameter ranges of :class:`RainStreaks`. The three training styles overlap
#: one another; ``"storm"`` lies outside every one of their ranges in every parameter (sparser
#: seeds, longer, wider, more slanted and more opaque streaks), so it is an unseen distortion
#: *type* for a model trained on the three.
RAIN_STYLES: Mapping[str, Mapping[str, tuple[float, float]]] = {
    "drizzle": {
        "density": (0.002, 0.005),
        "length": (6.0, 14.0),
        "angle": (-10.0, 10.0),
        "width": (1.0, 1.5),
        "blend": (0.4, 0.6),
    },
    "streaks": {
        "density": (0.004, 0.010),
        "length": (12.0, 24.0),
        "angle": (-20.0, 0.0),
        "width": (1.0, 2.0),
        "blend": (0.5, 0.75),
    },
    "heavy": {
        "density": (0.006, 0.012),
        "length": (20.0, 34.0),
        "angle": (0.0, 20.0),
        "width": (1.5, 2.5),
        "blend": (0.6, 0.85),
    },
    "storm": {
        "density": (0.0005, 0.0015),
        "length": (40.0, 56.0),
        "angle": (30.0, 45.0),
        "width": (3.0, 4.0),
        "blend": (0.9, 1.0),
    },
}
TRAIN_RAIN_STYLES: tuple[str, ...] = ("drizzle", "streaks", "heavy")
UNSEEN_RAIN_STYLE = "storm"

_MIN_INTENSITY = 0.6  # a seed's intensity is uniform in [0.6, 1]


def streak_kernels(length: Tensor, width: Tensor, angle_deg: Tensor, radius: int) -> Tensor:
    """Antialiased line segments, one per sample: ``(N, 2 radius + 1, 2 radius + 1)`` with taps in ``[0, 1]``.

    A tap at offset ``(u, v)`` (``u`` along x, ``v`` along y) weighs
    ``clip(length/2 + 1/2 - |along|, 0, 1) * clip(width/2 + 1/2 - |across|, 0, 1)`` with
    ``along = u sin(a) + v cos(a)`` and ``across = u cos(a) - v sin(a)``: 1 inside the segment,
    a one-pixel linear ramp at its ends and sides. Symmetric under a half turn, so correlation
    and convolution agree.
    """
    dtype = length.dtype
    t = torch.arange(-radius, radius + 1, device=length.device, dtype=dtype)
    v, u = torch.meshgrid(t, t, indexing="ij")  # v: rows (y), u: columns (x)
    a = torch.deg2rad(angle_deg).view(-1, 1, 1)
    s, c = torch.sin(a), torch.cos(a)
    along = u * s + v * c
    across = u * c - v * s
    k_len = (length.view(-1, 1, 1) / 2 + 0.5 - along.abs()).clamp(0, 1)
    k_wid = (width.view(-1, 1, 1) / 2 + 0.5 - across.abs()).clamp(0, 1)
    return k_len * k_wid


class RainStreaks(Degradation):
    """Synthetic rain streaks (see the module docstring for the model).

    Args:
        density: probability that a pixel seeds a streak (in ``[0, 1]``; e.g. 0.01).
        length: streak length in pixels (``[1, 128]``).
        angle: degrees from the vertical (``[-80, 80]``), positive leaning right going down.
        width: streak width in pixels (``(0, 16]``).
        blend: screen-blending strength (``[0, 1]``): the brightness a full-intensity streak
            adds is ``blend * (1 - x)``.
        name: label (default ``"rain"``).

    Each is a number or a ``(low, high)`` range drawn per sample. Output: same shape, dtype
    and device as the input; values in ``[0, 1]``. The kernel size is fixed by the ranges'
    upper ends, so a seed draws the same random numbers whatever the other samples draw.
    """

    def __init__(
        self,
        density: RangeLike = (0.004, 0.01),
        length: RangeLike = (10.0, 30.0),
        angle: RangeLike = (-15.0, 15.0),
        width: RangeLike = (1.0, 2.0),
        blend: RangeLike = (0.5, 0.8),
        *,
        name: str | None = None,
    ) -> None:
        self.density = ParamRange(density, "density", min_value=0.0, max_value=1.0)
        self.length = ParamRange(length, "length", min_value=1.0, max_value=128.0)
        self.angle = ParamRange(angle, "angle", min_value=-80.0, max_value=80.0)
        self.width = ParamRange(width, "width", min_value=1e-3, max_value=16.0)
        self.blend = ParamRange(blend, "blend", min_value=0.0, max_value=1.0)
        self.radius = math.ceil(self.length.high / 2 + self.width.high / 2) + 1
        self.name = name if name is not None else "rain"

    @classmethod
    def style(cls, name: str, **overrides: Any) -> RainStreaks:
        """The named style of :data:`RAIN_STYLES` (``overrides`` replace some of its ranges)."""
        return rain_style(name, **overrides)

    def params(
        self, n: int, generator: torch.Generator | None, device: torch.device, dtype: torch.dtype = torch.float32
    ) -> dict[str, Tensor]:
        """The per-sample parameters one call draws first: ``{"density", "length", "angle", "width", "blend"}``."""
        return {
            k: getattr(self, k).sample(n, generator, device, dtype)
            for k in ("density", "length", "angle", "width", "blend")
        }

    def streaks(
        self,
        n: int,
        height: int,
        width: int,
        generator: torch.Generator | None,
        device: torch.device,
        dtype: torch.dtype = torch.float32,
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """The streak layer ``S`` ``(n, 1, height, width)`` in ``[0, 1]`` and the parameters it was drawn with."""
        cdtype = torch.float64 if dtype == torch.float64 else torch.float32
        p = self.params(n, generator, device, cdtype)
        r = self.radius
        u = rand((n, 1, height + 2 * r, width + 2 * r), generator, device, cdtype)
        dens = p["density"].view(n, 1, 1, 1)
        # a seed where u < density; its intensity reuses u (uniform in [0, density) there): no extra draws
        seeds = torch.where(
            u < dens,
            _MIN_INTENSITY + (1 - _MIN_INTENSITY) * u / dens.clamp_min(1e-12),
            torch.zeros((), device=device, dtype=cdtype),
        )
        k = streak_kernels(p["length"], p["width"], p["angle"], r)
        s = F.conv2d(seeds.view(1, n, *seeds.shape[-2:]), k.unsqueeze(1), groups=n)
        return s.view(n, 1, height, width).clamp_(0, 1), p

    def _apply(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        n, _, h, w = x.shape
        s, p = self.streaks(n, h, w, generator, x.device, x.dtype)
        xc = x.to(s.dtype)
        out = xc + p["blend"].view(n, 1, 1, 1) * s * (1 - xc)
        return out.clamp_(0, 1).to(x.dtype)

    def _params_repr(self) -> str:
        return (
            f"density={self.density!r}, length={self.length!r}, angle={self.angle!r}, "
            f"width={self.width!r}, blend={self.blend!r}, name={self.name!r}"
        )


def rain_style(name: str, **overrides: Any) -> RainStreaks:
    """:class:`RainStreaks` with the ranges of style ``name`` (one of :data:`RAIN_STYLES`), named ``rain_<name>``."""
    if name not in RAIN_STYLES:
        raise ValueError(f"unknown rain style {name!r}; known: {', '.join(RAIN_STYLES)}")
    kwargs: dict[str, Any] = {**RAIN_STYLES[name], **overrides}
    kwargs.setdefault("name", f"rain_{name}")
    return RainStreaks(**kwargs)
