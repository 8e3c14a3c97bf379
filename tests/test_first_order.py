"""ERM, DIL_sf and DIL_pf against hand-written updates on a linear model (closed-form gradients)."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from dil_optim import DILWrapper
from toys import flat, linear_problem, mse_grad

ALPHA, BETA = 0.05, 0.3


def sgd_inner(params):
    return torch.optim.SGD(params, lr=ALPHA)


def test_erm_equals_hand_written_step_on_concatenated_batch():
    model, batches, _ = linear_problem()
    ref = copy.deepcopy(model)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    ref_opt = torch.optim.Adam(ref.parameters(), lr=1e-2)
    dil = DILWrapper(model, opt, nn.MSELoss(), variant="erm")
    for _ in range(3):
        dil.step(batches)
        x = torch.cat([b[0] for b in batches])
        y = torch.cat([b[1] for b in batches])
        ref_opt.zero_grad()
        nn.functional.mse_loss(ref(x), y).backward()
        ref_opt.step()
    for p, q in zip(model.parameters(), ref.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-12)


def test_sf_meta_gradient_is_theta_minus_inner_weights():
    model, batches, _ = linear_problem()
    theta = flat(model)
    dil = DILWrapper(model, torch.optim.SGD(model.parameters(), lr=BETA), nn.MSELoss(), "sf",
                     inner_optimizer=sgd_inner, shuffle=False)
    stats = dil.step(batches)
    w = theta.clone()
    losses = []
    for b in batches:  # serial: one SGD step per confounder, in order
        a = torch.cat([b[0], torch.ones(b[0].shape[0], 1, dtype=torch.float64)], 1)
        losses.append(((a @ w - b[1].reshape(-1)) ** 2).mean().item())
        w = w - ALPHA * mse_grad(w, b)
    meta = theta - w
    got = torch.cat([model.weight.grad.reshape(-1), model.bias.grad.reshape(-1)])
    torch.testing.assert_close(got, meta, rtol=0, atol=1e-12)
    torch.testing.assert_close(flat(model), theta - BETA * meta, rtol=0, atol=1e-12)
    assert stats.confounder_losses == pytest.approx(losses, abs=1e-12)
    assert stats.grad_norm == pytest.approx(meta.norm().item(), abs=1e-12)


def test_sf_shuffled_order_follows_the_generator():
    model, batches, _ = linear_problem(n_conf=4)
    theta = flat(model)
    gen = torch.Generator().manual_seed(123)
    order = torch.randperm(4, generator=torch.Generator().manual_seed(123)).tolist()
    assert order != [0, 1, 2, 3]
    dil = DILWrapper(model, torch.optim.SGD(model.parameters(), lr=BETA), nn.MSELoss(), "sf",
                     inner_optimizer=sgd_inner, generator=gen)
    dil.step(batches)
    w = theta.clone()
    for i in order:
        w = w - ALPHA * mse_grad(w, batches[i])
    torch.testing.assert_close(flat(model), theta - BETA * (theta - w), rtol=0, atol=1e-12)


def test_pf_meta_gradient_uses_mean_loss_over_confounders_twice():
    model, batches, _ = linear_problem()
    theta = flat(model)
    dil = DILWrapper(model, torch.optim.SGD(model.parameters(), lr=BETA), nn.MSELoss(), "pf",
                     inner_optimizer=sgd_inner)
    dil.step(batches)
    w = theta.clone()
    for _ in range(2):  # Alg. 3: two inner steps on all confounders
        w = w - ALPHA * torch.stack([mse_grad(w, b) for b in batches]).mean(0)
    meta = theta - w
    got = torch.cat([model.weight.grad.reshape(-1), model.bias.grad.reshape(-1)])
    torch.testing.assert_close(got, meta, rtol=0, atol=1e-12)
    torch.testing.assert_close(flat(model), theta - BETA * meta, rtol=0, atol=1e-12)


def test_default_inner_optimizer_is_adam_beta1_zero_with_state_carried():
    model, batches, _ = linear_problem()
    ref = copy.deepcopy(model)
    dil = DILWrapper(model, torch.optim.SGD(model.parameters(), lr=1.0), nn.MSELoss(), "sf",
                     inner_lr=1e-2, shuffle=False)
    inner = torch.optim.Adam(ref.parameters(), lr=1e-2, betas=(0.0, 0.999))
    outer = torch.optim.SGD(ref.parameters(), lr=1.0)
    for _ in range(3):
        dil.step(batches)
        theta = [p.detach().clone() for p in ref.parameters()]
        for x, y in batches:
            inner.zero_grad()
            nn.functional.mse_loss(ref(x), y).backward()
            inner.step()
        with torch.no_grad():
            for p, t in zip(ref.parameters(), theta):
                p.grad = t - p
                p.copy_(t)
        outer.step()
    for p, q in zip(model.parameters(), ref.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-12)
    assert dil.inner_optimizer.state[model.weight]["step"].item() == 9


@pytest.mark.parametrize("variant", ["erm", "sf", "pf"])
def test_no_graph_survives_and_grads_are_plain(variant):
    model, batches, _ = linear_problem()
    dil = DILWrapper(model, torch.optim.Adam(model.parameters()), nn.MSELoss(), variant)
    dil.step(batches)
    for p in model.parameters():
        assert p.grad is not None and p.grad.grad_fn is None and not p.grad.requires_grad
