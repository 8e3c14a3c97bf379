"""DIL_ps and DIL_ss: closed forms on a linear model, finite differences, backend agreement."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.func import functional_call

from dil_optim import DILWrapper
from toys import flat, image_batches, linear_problem, mse_grad, mse_hessian, small_convnet

ALPHA = 0.05


def _meta_grad(model):
    return torch.cat([model.weight.grad.reshape(-1), model.bias.grad.reshape(-1)])


def _sgd_wrapper(model, variant, backend="torch_func"):
    return DILWrapper(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.MSELoss(), variant,
                      inner_lr=ALPHA, virtual_step="sgd", backend=backend)


@pytest.mark.parametrize("backend", ["torch_func", "higher"])
def test_ps_gradient_matches_closed_form(backend):
    model, batches, query = linear_problem()
    theta = flat(model)
    _sgd_wrapper(model, "ps", backend).step(batches, query)
    # phi = theta - a * mean_i g_i(theta); d/dtheta L_q(phi) = (I - a * mean_i H_i) g_q(phi)
    phi = theta - ALPHA * torch.stack([mse_grad(theta, b) for b in batches]).mean(0)
    h = torch.stack([mse_hessian(b) for b in batches]).mean(0)
    expected = (torch.eye(len(theta), dtype=theta.dtype) - ALPHA * h) @ mse_grad(phi, query)
    torch.testing.assert_close(_meta_grad(model), expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(flat(model), theta - 0.1 * expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("backend", ["torch_func", "higher"])
def test_ss_gradient_matches_closed_form(backend):
    model, batches, query = linear_problem()
    theta = flat(model)
    stats = _sgd_wrapper(model, "ss", backend).step(batches, query)
    eye = torch.eye(len(theta), dtype=theta.dtype)
    branches = []
    for b in batches:
        phi = theta - ALPHA * mse_grad(theta, b)
        branches.append((eye - ALPHA * mse_hessian(b)) @ mse_grad(phi, query))
    torch.testing.assert_close(_meta_grad(model), torch.stack(branches).mean(0), rtol=0, atol=1e-12)
    assert stats.outer_loss > 0


def _adam_phi(theta, g, lr, t=1, b1=0.9, b2=0.999, eps=1e-8):
    m, v = (1 - b1) * g, (1 - b2) * g * g
    return theta - lr * (m / (1 - b1**t)) / ((v / (1 - b2**t)).sqrt() + eps)


@pytest.mark.parametrize("variant", ["ps", "ss"])
def test_adam_virtual_step_agrees_with_finite_differences(variant):
    torch.manual_seed(0)
    model = small_convnet().double()
    batches, query = image_batches(n_conf=2, dtype=torch.float64)
    names = [k for k, _ in model.named_parameters()]
    theta0 = [p.detach().clone() for p in model.parameters()]
    lr = 1e-2

    def objective(flat_theta: list[torch.Tensor]) -> float:
        """J(theta) written independently: plain autograd for g, Adam's first step by hand."""
        def loss_at(ps, batch):
            return nn.functional.l1_loss(functional_call(model, dict(zip(names, ps)), (batch[0],)), batch[1])

        groups = [batches] if variant == "ps" else [[b] for b in batches]
        outs = []
        for group in groups:
            ps = [t.clone().requires_grad_(True) for t in flat_theta]
            inner = torch.stack([loss_at(ps, b) for b in group]).mean()
            g = torch.autograd.grad(inner, ps)
            phi = [_adam_phi(t, gi, lr) for t, gi in zip(flat_theta, g)]
            outs.append(loss_at(phi, query).item())
        return sum(outs) / len(outs)

    dil = DILWrapper(model, torch.optim.SGD(model.parameters(), lr=0.0), nn.L1Loss(), variant, inner_lr=lr)
    dil.step(batches, query)
    grad = [p.grad.clone() for p in model.parameters()]
    gen = torch.Generator().manual_seed(1)
    direction = [torch.randn(t.shape, generator=gen, dtype=t.dtype) for t in theta0]
    eps = 1e-6
    plus = objective([t + eps * d for t, d in zip(theta0, direction)])
    minus = objective([t - eps * d for t, d in zip(theta0, direction)])
    fd = (plus - minus) / (2 * eps)
    analytic = sum((g * d).sum() for g, d in zip(grad, direction)).item()
    assert analytic == pytest.approx(fd, rel=1e-4, abs=1e-8)


@pytest.mark.parametrize("variant", ["ps", "ss"])
@pytest.mark.parametrize("virtual_step", ["adam", "sgd"])
def test_backends_agree(variant, virtual_step):
    torch.manual_seed(0)
    base = small_convnet(batchnorm=True).double()
    batches, query = image_batches(dtype=torch.float64)
    results = {}
    for backend in ("torch_func", "higher"):
        model = copy.deepcopy(base)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        dil = DILWrapper(model, opt, nn.L1Loss(), variant, inner_lr=1e-2, virtual_step=virtual_step, backend=backend)
        stats = [dil.step(batches, query) for _ in range(3)]
        results[backend] = (model.state_dict(), stats)
    (sd_a, st_a), (sd_b, st_b) = results["torch_func"], results["higher"]
    for k in sd_a:
        torch.testing.assert_close(sd_a[k], sd_b[k], rtol=1e-10, atol=1e-12)
    for a, b in zip(st_a, st_b):
        assert a.outer_loss == pytest.approx(b.outer_loss, rel=1e-10)
        assert a.grad_norm == pytest.approx(b.grad_norm, rel=1e-8)


@pytest.mark.parametrize("variant", ["ps", "ss"])
def test_adam_moments_carry_across_outer_steps(variant):
    model, batches, query = linear_problem()
    dil = DILWrapper(model, torch.optim.SGD(model.parameters(), lr=0.01), nn.MSELoss(), variant, inner_lr=1e-3)
    dil.step(batches, query)
    assert dil.vstep.t == 1
    m1 = dil.vstep.exp_avg["weight"].clone()
    dil.step(batches, query)
    assert dil.vstep.t == 2
    assert not torch.equal(dil.vstep.exp_avg["weight"], m1)


def test_zero_gradient_coordinate_keeps_adam_virtual_step_finite():
    # An input feature that is always zero gives its weight a zero gradient, hence v = 0.
    model, batches, query = linear_problem()
    batches = [(torch.cat([x[:, :-1], torch.zeros_like(x[:, -1:])], 1), y) for x, y in batches]
    query = (torch.cat([query[0][:, :-1], torch.zeros_like(query[0][:, -1:])], 1), query[1])
    dil = DILWrapper(model, torch.optim.SGD(model.parameters(), lr=0.01), nn.MSELoss(), "ps", inner_lr=1e-3)
    stats = dil.step(batches, query)
    assert torch.isfinite(model.weight.grad).all() and stats.grad_norm == stats.grad_norm
    assert model.weight.grad[0, -1].item() == 0.0
