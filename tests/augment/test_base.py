"""Parameter ranges, input checks and composition."""

from __future__ import annotations

import pytest
import torch

from dil_optim.augment import Compose, GaussianBlur, GaussianNoise, JPEG, ParamRange
from dil_optim.augment.base import check_batch

from ._helpers import gen, natural_batch


def test_param_range_fixed_and_uniform() -> None:
    fixed = ParamRange(15, "sigma")
    assert fixed.fixed and repr(fixed) == "15"
    state = gen(0)
    before = state.get_state()
    assert torch.equal(fixed.sample(4, state, torch.device("cpu")), torch.full((4,), 15.0))
    assert torch.equal(state.get_state(), before)  # a fixed value consumes no random numbers
    r = ParamRange((5, 20), "sigma")
    v = r.sample(10000, gen(1), torch.device("cpu"), torch.float64)
    assert float(v.min()) >= 5 and float(v.max()) <= 20
    assert abs(float(v.mean()) - 12.5) < 0.15 and abs(float(v.var()) - 15**2 / 12) < 0.6


@pytest.mark.parametrize("bad,exc", [((1,), TypeError), ("a", TypeError), ((3, 1), ValueError),
                                     (float("inf"), ValueError), (None, TypeError), (-1, ValueError)])
def test_param_range_errors(bad: object, exc: type) -> None:
    with pytest.raises(exc, match="sigma"):
        ParamRange(bad, "sigma", min_value=0)  # type: ignore[arg-type]


def test_check_batch_messages() -> None:
    x = natural_batch(1, 8)
    assert check_batch(x) is x
    with pytest.raises(ValueError, match="empty"):
        check_batch(x[:0])
    with pytest.raises(ValueError, match="3 channels"):
        check_batch(x[:, :1], channels=(3,))
    with pytest.raises(ValueError, match=r"got range \[-1, 0.5\]"):
        check_batch(torch.tensor([-1.0, 0.5]).view(1, 1, 1, 2))
    check_batch(x + 5e-5)  # rounding slack of earlier operations is accepted


def test_compose_applies_in_order_with_one_generator() -> None:
    x = natural_batch(2, 32)
    comp = Compose([GaussianBlur(2.0), GaussianNoise(10), JPEG(60)])
    g = gen(5)
    ref = JPEG(60)(GaussianNoise(10)(GaussianBlur(2.0)(x, g), g), g)
    torch.testing.assert_close(comp(x, gen(5)), ref)
    assert comp.name == "blur2+awgn10+jpeg60"
    with pytest.raises(ValueError, match="at least one"):
        Compose([])
    with pytest.raises(TypeError, match="Degradation"):
        Compose([lambda x: x])  # type: ignore[list-item]


def test_no_autograd_graph_is_built() -> None:
    x = natural_batch(1, 16).requires_grad_(True)
    out = GaussianNoise(5)(x)
    assert not out.requires_grad
