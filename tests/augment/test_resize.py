"""Downsample and the Real-ESRGAN resize step (dil_optim.augment.resize)."""

from __future__ import annotations

import pytest
import torch

from dil_optim.augment import Downsample
from dil_optim.augment.resize import MODES, resize

from ._helpers import natural_batch


def test_downsample_sizes_and_area_is_average_pooling() -> None:
    x = natural_batch(2, 32)
    assert Downsample(4)(x).shape == (2, 3, 8, 8)
    assert Downsample(3)(x[..., :31, :]).shape == (2, 3, 10, 10)  # floors
    torch.testing.assert_close(Downsample(2, "area")(x), torch.nn.functional.avg_pool2d(x, 2))


@pytest.mark.parametrize("mode", MODES)
def test_a_flat_image_stays_flat_and_in_range(mode: str) -> None:
    x = torch.full((1, 3, 16, 16), 0.3)
    torch.testing.assert_close(Downsample(4, mode)(x), torch.full((1, 3, 4, 4), 0.3))
    y = Downsample(2, mode)(natural_batch(1, 32))
    assert y.min() >= 0 and y.max() <= 1


def test_resize_keeps_an_input_already_that_size_and_clamps_sizes_to_one() -> None:
    x = natural_batch(1, 8)
    assert resize(x, (8, 8), "bicubic") is x
    assert resize(x, (0, 3), "area").shape == (1, 3, 1, 3)


@pytest.mark.parametrize(
    "kwargs, match", [({"scale": 0}, "scale"), ({"scale": 2.0}, "scale"), ({"scale": True}, "scale"), ({"mode": "lanczos"}, "mode")]
)
def test_bad_arguments_raise(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Downsample(**kwargs)


def test_too_small_input_raises() -> None:
    with pytest.raises(ValueError, match="smaller than the scale"):
        Downsample(4)(torch.rand(1, 3, 3, 3))
