"""Shared machinery of the distortion families: input checks, parameter ranges, RNG, padding.

Every degradation in :mod:`dil_optim.augment` is a :class:`Degradation`: a small callable
``deg(x, generator=None) -> Tensor`` taking a batch ``x`` of shape ``(N, C, H, W)``, a
floating-point tensor with values in ``[0, 1]``, on any device. It returns a new tensor of the
same shape, dtype and device (resize-type degradations document their output size) and never
writes into ``x``. Random parameters are drawn from the optional :class:`torch.Generator`
(or PyTorch's default generator of ``x``'s device when it is ``None``).

A generator may live on a different device from ``x``: numbers are then drawn on the
generator's device and moved, so the same seed gives the same result on CPU and CUDA inputs
whenever the generator is a CPU one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Union

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "Degradation",
    "Compose",
    "ParamRange",
    "RangeLike",
    "check_batch",
    "check_generator",
    "rand",
    "randn",
    "randint",
    "pad_reflect",
]

RangeLike = Union[float, int, Sequence[float]]

_RANGE_EPS = 1e-4  # values this far outside [0, 1] are accepted (float rounding of earlier ops)


def check_generator(generator: object) -> None:
    """Raise ``TypeError`` unless ``generator`` is ``None`` or a :class:`torch.Generator`."""
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")


def check_batch(
    x: object, *, channels: Sequence[int] | None = None, name: str = "x", check_range: bool = True
) -> Tensor:
    """Validate a degradation input and return it.

    Args:
        x: the batch; must be a floating-point tensor of shape ``(N, C, H, W)`` with values
            in ``[0, 1]`` (a tolerance of 1e-4 is allowed for rounding).
        channels: allowed values of ``C`` (``None``: any).
        name: the argument name used in error messages.
        check_range: also check the value range (one reduction over ``x``).

    Raises:
        TypeError: not a tensor, or not a floating dtype.
        ValueError: wrong number of dimensions, empty, wrong channel count, or out of range.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (N, C, H, W), got {type(x).__name__}")
    if x.dim() != 4:
        raise ValueError(f"{name} must have shape (N, C, H, W), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor in [0, 1], got dtype {x.dtype}")
    if x.numel() == 0:
        raise ValueError(f"{name} is empty: shape {tuple(x.shape)}")
    if channels is not None and x.shape[1] not in channels:
        raise ValueError(f"{name} must have {' or '.join(map(str, channels))} channels, got shape {tuple(x.shape)}")
    if check_range:
        lo_f, hi_f = torch.stack(torch.aminmax(x.detach())).tolist()  # one device sync
        if not (lo_f >= -_RANGE_EPS and hi_f <= 1.0 + _RANGE_EPS):  # also catches NaN
            raise ValueError(f"{name} must have values in [0, 1], got range [{lo_f:.4g}, {hi_f:.4g}]")
    return x


def _rng_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def rand(
    shape: Sequence[int], generator: torch.Generator | None, device: torch.device, dtype: torch.dtype = torch.float32
) -> Tensor:
    """Uniform ``[0, 1)`` numbers drawn on the generator's device, returned on ``device``."""
    gdev = generator.device if generator is not None else device
    out = torch.rand(tuple(shape), generator=generator, device=gdev, dtype=_rng_dtype(dtype))
    return out.to(device=device, dtype=dtype)


def randn(
    shape: Sequence[int], generator: torch.Generator | None, device: torch.device, dtype: torch.dtype = torch.float32
) -> Tensor:
    """Standard normal numbers drawn on the generator's device, returned on ``device``."""
    gdev = generator.device if generator is not None else device
    out = torch.randn(tuple(shape), generator=generator, device=gdev, dtype=_rng_dtype(dtype))
    return out.to(device=device, dtype=dtype)


def randint(high: int, shape: Sequence[int], generator: torch.Generator | None, device: torch.device) -> Tensor:
    """Integers uniform in ``[0, high)`` (int64) drawn on the generator's device."""
    gdev = generator.device if generator is not None else device
    return torch.randint(high, tuple(shape), generator=generator, device=gdev).to(device)


class ParamRange:
    """A scalar parameter that is either fixed or drawn uniformly per sample.

    ``ParamRange(15)`` is the fixed value 15; ``ParamRange((5, 20))`` draws a value
    uniformly in ``[5, 20]`` independently for every sample of a batch.

    Args:
        value: a number, or a ``(low, high)`` pair with ``low <= high``.
        name: the parameter name used in error messages and ``repr``.
        min_value / max_value: allowed closed interval for the value(s).
    """

    low: float
    high: float

    def __init__(
        self, value: RangeLike | ParamRange, name: str, *, min_value: float = -math.inf, max_value: float = math.inf
    ) -> None:
        if isinstance(value, ParamRange):
            low, high = value.low, value.high
        elif isinstance(value, bool):
            raise TypeError(f"{name} must be a number or a (low, high) pair, got a bool")
        elif isinstance(value, (int, float)):
            low = high = float(value)
        elif isinstance(value, Sequence) and not isinstance(value, str):
            if len(value) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
                raise TypeError(f"{name} must be a number or a (low, high) pair of numbers, got {value!r}")
            low, high = float(value[0]), float(value[1])
        else:
            raise TypeError(f"{name} must be a number or a (low, high) pair, got {type(value).__name__}")
        if not (math.isfinite(low) and math.isfinite(high)):
            raise ValueError(f"{name} must be finite, got {value!r}")
        if low > high:
            raise ValueError(f"{name} range must have low <= high, got ({low}, {high})")
        if low < min_value or high > max_value:
            raise ValueError(f"{name} must lie in [{min_value}, {max_value}], got {value!r}")
        self.name = name
        self.low = low
        self.high = high

    @property
    def fixed(self) -> bool:
        """True when the parameter is a single value (no randomness)."""
        return self.low == self.high

    def sample(
        self, n: int, generator: torch.Generator | None, device: torch.device, dtype: torch.dtype = torch.float32
    ) -> Tensor:
        """``n`` values, shape ``(n,)``; a fixed parameter consumes no random numbers."""
        if self.fixed:
            return torch.full((n,), self.low, device=device, dtype=dtype)
        u = rand((n,), generator, device, dtype)
        return self.low + (self.high - self.low) * u

    def __repr__(self) -> str:
        return f"{self.low:g}" if self.fixed else f"({self.low:g}, {self.high:g})"


def pad_reflect(x: Tensor, pad_h: int, pad_w: int | None = None) -> Tensor:
    """Reflect-pad the last two dims (mirror without repeating the edge: ``d c b | a b c d``).

    Unlike :func:`torch.nn.functional.pad`, padding may exceed the image size: the
    reflection is then continued periodically (period ``2 * (size - 1)``), as
    ``numpy.pad(mode="reflect")`` does. A dimension of size 1 is replicated.
    """
    pad_w = pad_h if pad_w is None else pad_w
    if pad_h == 0 and pad_w == 0:
        return x
    h, w = x.shape[-2:]
    if pad_h < h and pad_w < w:
        return F.pad(x, (pad_w, pad_w, pad_h, pad_h), mode="reflect")
    return x.index_select(-2, _reflect_index(h, pad_h, x.device)).index_select(-1, _reflect_index(w, pad_w, x.device))


def _reflect_index(n: int, pad: int, device: torch.device) -> Tensor:
    idx = torch.arange(-pad, n + pad, device=device)
    if n == 1:
        return torch.zeros_like(idx)
    period = 2 * (n - 1)
    idx = torch.remainder(idx, period)
    return torch.where(idx >= n, period - idx, idx)


class Degradation:
    """Base class of the distortion families.

    Subclasses implement :meth:`_apply` (input already validated) and set ``name``.
    ``__call__`` validates the input and generator, then calls ``_apply``.
    ``channels`` restricts the allowed channel counts (``None``: any).
    """

    name: str = "degradation"
    channels: tuple[int, ...] | None = None

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        check_batch(x, channels=self.channels)
        check_generator(generator)
        with torch.no_grad():
            return self._apply(x, generator)

    def _apply(self, x: Tensor, generator: torch.Generator | None) -> Tensor:  # pragma: no cover
        raise NotImplementedError

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """Spatial size of the output for an input of ``height x width`` (same by default)."""
        return height, width

    def _params_repr(self) -> str:  # pragma: no cover - overridden
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._params_repr()})"


class Compose(Degradation):
    """Apply degradations in order: ``Compose([a, b])(x) == b(a(x))`` (with one generator).

    Args:
        degradations: the sequence to apply; each must be a :class:`Degradation`.
        name: optional name (default: the members' names joined by ``+``).
    """

    def __init__(self, degradations: Sequence[Degradation], *, name: str | None = None) -> None:
        degs = list(degradations)
        if not degs:
            raise ValueError("Compose needs at least one degradation")
        for d in degs:
            if not isinstance(d, Degradation):
                raise TypeError(f"Compose members must be Degradation objects, got {type(d).__name__}")
        self.degradations = degs
        self.name = name if name is not None else "+".join(d.name for d in degs)

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        check_batch(x)
        check_generator(generator)
        with torch.no_grad():
            return self._apply(x, generator)

    def _apply(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        for d in self.degradations:
            check_batch(x, channels=d.channels, check_range=False)
            x = d._apply(x, generator)
        return x

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        for d in self.degradations:
            height, width = d.output_size(height, width)
        return height, width

    def __repr__(self) -> str:
        return f"Compose([{', '.join(repr(d) for d in self.degradations)}])"
