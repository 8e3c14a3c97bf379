"""build_model(name, bias=False): no additive term anywhere, so the net is positively homogeneous."""

from __future__ import annotations

import pytest
import torch

from dil_optim.models import build_model


@pytest.mark.parametrize("name", ["dncnn", "rrdb_small"])
def test_bias_free_nets_have_no_bias_and_scale_with_their_input(name: str):
    torch.manual_seed(0)
    model = build_model(name, bias=False).double()
    assert not any("bias" in n for n, _ in model.named_parameters())
    x = torch.rand(2, 3, 12, 10, dtype=torch.float64)
    with torch.no_grad():
        for a in (0.5, 3.0):
            torch.testing.assert_close(model(a * x), a * model(x), rtol=1e-12, atol=1e-12)
    biased = build_model(name).double()
    assert sum(p.numel() for p in biased.parameters()) > sum(p.numel() for p in model.parameters())
    with torch.no_grad():
        assert not torch.allclose(biased(3.0 * x), 3.0 * biased(x))


def test_bias_free_dncnn_refuses_batchnorm():
    with pytest.raises(ValueError, match="bias=False cannot be combined with batchnorm"):
        build_model("dncnn", bias=False, batchnorm=True)
