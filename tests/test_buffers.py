"""freeze_running_stats: the DIL authors' BatchNorm behaviour (running statistics never move)."""

from __future__ import annotations

import torch
from toys import image_batches, small_convnet

from dil_optim import DILWrapper
from dil_optim.core.buffers import freeze_running_stats


def test_running_stats_stay_at_their_initial_values_but_training_still_normalises():
    torch.manual_seed(0)
    model = small_convnet(batchnorm=True)
    assert freeze_running_stats(model) == 1
    bn = model[1]
    mean, var = bn.running_mean.clone(), bn.running_var.clone()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    dil = DILWrapper(model, opt, variant="sf")
    batches, _ = image_batches(n_conf=3)
    before = [p.detach().clone() for p in model.parameters()]
    for _ in range(3):
        dil.step(batches)
    assert torch.equal(bn.running_mean, mean) and torch.equal(bn.running_var, var)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))  # it still trains

    torch.manual_seed(0)
    default = small_convnet(batchnorm=True)
    DILWrapper(default, torch.optim.Adam(default.parameters(), lr=1e-2), variant="sf").step(batches)
    assert not torch.equal(default[1].running_mean, mean)  # the default accumulates
