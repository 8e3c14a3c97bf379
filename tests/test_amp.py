"""Mixed precision: bf16 autocast on CPU for every variant."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from dil_optim import DILWrapper
from toys import image_batches, small_convnet


@pytest.mark.parametrize("variant", ["erm", "sf", "pf", "ss", "ps"])
def test_bf16_autocast_step(variant):
    torch.manual_seed(0)
    base = small_convnet()
    batches, query = image_batches(size=8)
    query = query if variant in ("ss", "ps") else None
    stats = {}
    for dtype in (None, torch.bfloat16):
        model = copy.deepcopy(base)
        dil = DILWrapper(model, torch.optim.Adam(model.parameters(), lr=1e-3), nn.L1Loss(), variant,
                         autocast_dtype=dtype)
        stats[dtype] = dil.step(batches, query)
        assert all(p.dtype == torch.float32 for p in model.parameters())
        assert not any(torch.equal(p, q) for p, q in zip(model.parameters(), base.parameters()))
    full, half = stats[None], stats[torch.bfloat16]
    assert half.outer_loss == pytest.approx(full.outer_loss, rel=2e-2)
    assert half.outer_loss != full.outer_loss  # the forward really ran in bf16


def test_bad_autocast_dtype():
    model = small_convnet()
    with pytest.raises(ValueError, match="autocast_dtype"):
        DILWrapper(model, torch.optim.Adam(model.parameters()), autocast_dtype=torch.float64)


@pytest.mark.parametrize("variant", ["erm", "sf", "pf", "ss", "ps"])
def test_fp16_with_grad_scaler_matches_fp32_direction(variant):
    """float16 autocast + GradScaler (CPU here; the same code path as CUDA)."""
    torch.manual_seed(0)
    base = small_convnet()
    batches, query = image_batches(size=8)
    query = query if variant in ("ss", "ps") else None
    grads = {}
    for dtype in (None, torch.float16):
        model = copy.deepcopy(base)
        scaler = torch.amp.GradScaler("cpu", init_scale=2.0**12) if dtype else None
        dil = DILWrapper(model, torch.optim.SGD(model.parameters(), lr=1e-3), nn.L1Loss(), variant,
                         inner_lr=1e-3, autocast_dtype=dtype, grad_scaler=scaler)
        stats = dil.step(batches, query)
        grads[dtype] = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
        if scaler is not None:
            # scaler.step() unscaled p.grad in place; the stats report the same true norm.
            assert stats.grad_norm == pytest.approx(grads[dtype].norm().item(), rel=1e-3)
    cos = torch.nn.functional.cosine_similarity(grads[None], grads[torch.float16], dim=0)
    assert cos > 0.98
