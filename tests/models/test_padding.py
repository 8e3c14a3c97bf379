"""pad_to_multiple: reflect where possible, replicate for tiny images, no-op when aligned."""

from __future__ import annotations

import pytest
import torch

from dil_optim.models._padding import pad_to_multiple


def test_reflect_values():
    x = torch.arange(12.0).reshape(1, 1, 3, 4)
    out = pad_to_multiple(x, 4)
    assert out.shape == (1, 1, 4, 4)
    assert torch.equal(out[0, 0, 3], x[0, 0, 1])  # reflection of row 2 about itself -> row 1
    assert torch.equal(out[..., :3, :4], x)


def test_replicate_when_too_small_and_noop():
    x = torch.rand(2, 3, 1, 2)
    out = pad_to_multiple(x, 8)
    assert out.shape == (2, 3, 8, 8)
    assert torch.equal(out[:, :, 5, 7], x[:, :, 0, 1])
    y = torch.rand(1, 3, 8, 16)
    assert pad_to_multiple(y, 8) is y
    with pytest.raises(ValueError, match="multiple"):
        pad_to_multiple(y, 0)
