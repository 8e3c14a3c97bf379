"""dil_optim.training.fast on CPU: each option keeps the step's maths (fp32 options to float
round-off, bf16 to bf16 round-off); compile is exercised on ERM and DIL_sf (slow)."""

from __future__ import annotations

import pytest
import torch

from dil_optim import DILWrapper
from dil_optim.models import build_model
from dil_optim.training import fast

CPU = torch.device("cpu")


def _batches(n: int = 2) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    out = []
    for s in range(n):
        clean = torch.rand(4, 3, 16, 16, generator=g)
        out.append(((clean + (5 + 5 * s) / 255 * torch.randn(clean.shape, generator=g)).clamp(0, 1), clean))
    return out


def _run(variant: str, options: tuple[str, ...], steps: int = 3) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    model = fast.prepare_model(build_model("dncnn", depth=3, width=8), variant, CPU, options)
    opt = fast.adam(model.parameters(), 1e-3, CPU, options)
    dil = DILWrapper(model, opt, torch.nn.L1Loss(), variant, inner_lr=1e-3, autocast_dtype=fast.autocast_dtype(options),
                     generator=torch.Generator().manual_seed(1))
    batches = _batches()
    for _ in range(steps):
        dil.step(batches if variant != "erm" else [(torch.cat([b[0] for b in batches]),
                                                    torch.cat([b[1] for b in batches]))])
    return {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}


def test_options_are_validated_and_ordered():
    assert fast.check_fast_options(["fused", "bf16"]) == ("bf16", "fused")
    with pytest.raises(ValueError, match=r"unknown fast-path option\(s\) \['fp8'\]"):
        fast.check_fast_options(["fp8"])
    assert fast.autocast_dtype(["bf16"]) is torch.bfloat16 and fast.autocast_dtype([]) is None
    opt = fast.adam([torch.nn.Parameter(torch.zeros(2))], 1e-3, CPU, ["fused"])
    assert opt.defaults["foreach"] is True


@pytest.mark.parametrize("variant", ["erm", "sf", "pf"])
def test_channels_last_and_multi_tensor_adam_keep_the_numbers(variant: str):
    ref = _run(variant, ())
    got = _run(variant, ("channels_last", "fused", "tf32"))
    for k in ref:
        torch.testing.assert_close(got[k], ref[k], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("variant", ["erm", "sf"])
def test_bf16_autocast_stays_within_bf16_round_off(variant: str):
    ref = _run(variant, ())
    got = _run(variant, ("bf16",))
    diffs = [float((got[k] - ref[k]).abs().max()) for k in ref]
    assert all(torch.isfinite(got[k]).all() for k in got)
    assert 0 < max(diffs) < 5e-3  # it does change the numbers, by little: 3 Adam steps of lr 1e-3


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["erm", "sf"])
def test_compiled_model_gives_the_eager_numbers(variant: str):
    ref = _run(variant, ())
    got = _run(variant, ("compile",))
    for k in ref:
        torch.testing.assert_close(got[k], ref[k], rtol=1e-4, atol=1e-5)


def test_second_order_variants_stay_eager_under_compile():
    eager = fast.prepare_model(build_model("dncnn", depth=3, width=8), "ps", CPU, ("compile",))
    compiled = fast.prepare_model(build_model("dncnn", depth=3, width=8), "erm", CPU, ("compile",))
    assert eager._compiled_call_impl is None and compiled._compiled_call_impl is not None
