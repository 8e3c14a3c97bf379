"""The alias-table Poisson sampler against the Poisson distribution itself."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from dil_optim.augment._poisson import poisson_levels

from ._helpers import gen


@pytest.mark.parametrize("vals,level", [(256, 1), (256, 20), (256, 128), (256, 255), (1, 255), (32, 100)])
def test_draws_follow_the_poisson_law(vals: int, level: int) -> None:
    lam = vals * level / 255
    draws = poisson_levels(torch.full((200_000,), level), vals, gen(level)).numpy()
    assert np.all(draws == np.round(draws)) and draws.min() >= 0
    # chi-square goodness of fit on bins with >= 20 expected counts (tails pooled)
    lo, hi = int(stats.poisson.ppf(1e-4, lam)), int(stats.poisson.isf(1e-4, lam))
    edges = np.arange(lo, hi + 1)
    observed = np.array([(draws < lo).sum(), *[(draws == k).sum() for k in edges], (draws > hi).sum()])
    expected = len(draws) * np.array([stats.poisson.cdf(lo - 1, lam), *stats.poisson.pmf(edges, lam),
                                      stats.poisson.sf(hi, lam)])
    keep = expected >= 20
    obs = np.append(observed[keep], observed[~keep].sum())
    exp = np.append(expected[keep], expected[~keep].sum())
    _, p = stats.chisquare(obs, exp * obs.sum() / exp.sum())
    assert p > 1e-3, (vals, level, p)
    assert abs(draws.mean() - lam) < 5 * np.sqrt(lam / len(draws))


def test_level_zero_is_always_zero_and_seeded() -> None:
    assert float(poisson_levels(torch.zeros(1000, dtype=torch.long), 256, gen(0)).abs().max()) == 0.0
    levels = torch.randint(0, 256, (64, 64), generator=gen(1))
    a, b = poisson_levels(levels, 128, gen(2)), poisson_levels(levels, 128, gen(2))
    assert torch.equal(a, b) and not torch.equal(a, poisson_levels(levels, 128, gen(3)))


@pytest.mark.parametrize("bad", [0, 3, 512])
def test_bad_scale_raises(bad: int) -> None:
    with pytest.raises(ValueError, match="photon scale"):
        poisson_levels(torch.zeros(3, dtype=torch.long), bad, None)
