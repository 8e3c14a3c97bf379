"""ERM, DIL_sf and DIL_pf against hand-written updates on a linear model (closed-form gradients)."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from toys import flat, linear_problem, mse_grad

from dil_optim import DILWrapper

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


def _distinct_sets(k: int, n_conf: int = 3):
    """k sets of n_conf confounder batches, all different (one per inner step)."""
    return [linear_problem(n_conf=n_conf, seed=10 + s)[1] for s in range(k)]


def test_pf_draws_fresh_batches_for_each_inner_step_from_a_callable():
    model, _, _ = linear_problem()
    theta = flat(model)
    sets = _distinct_sets(3)
    draw = iter(sets).__next__
    dil = DILWrapper(model, torch.optim.SGD(model.parameters(), lr=BETA), nn.MSELoss(), "pf",
                     inner_optimizer=sgd_inner, inner_steps=3)
    stats = dil.step(draw)
    w = theta.clone()
    for batches in sets:  # Alg. 3: each inner step on newly sampled batches
        w = w - ALPHA * torch.stack([mse_grad(w, b) for b in batches]).mean(0)
    got = torch.cat([model.weight.grad.reshape(-1), model.bias.grad.reshape(-1)])
    torch.testing.assert_close(got, theta - w, rtol=0, atol=1e-12)
    a = [torch.cat([x, torch.ones(x.shape[0], 1, dtype=x.dtype)], 1) for x, _ in sets[0]]
    first = [((ai @ theta - y.reshape(-1)) ** 2).mean().item() for ai, (_, y) in zip(a, sets[0])]
    assert stats.confounder_losses == pytest.approx(first, abs=1e-12)  # at theta, first draw


def test_sf_passes_draw_fresh_batches_and_other_variants_draw_once():
    model, _, _ = linear_problem()
    theta = flat(model)
    sets = _distinct_sets(2)
    dil = DILWrapper(model, torch.optim.SGD(model.parameters(), lr=BETA), nn.MSELoss(), "sf",
                     inner_optimizer=sgd_inner, inner_steps=2, shuffle=False)
    dil.step(iter(sets).__next__)
    w = theta.clone()
    for batches in sets:
        for b in batches:
            w = w - ALPHA * mse_grad(w, b)
    torch.testing.assert_close(flat(model), theta - BETA * (theta - w), rtol=0, atol=1e-12)
    for variant in ("erm", "sf", "pf", "ps", "ss"):
        model, batches, query = linear_problem()
        calls = []
        dil = DILWrapper(model, torch.optim.SGD(model.parameters(), lr=BETA), nn.MSELoss(), variant)
        dil.step(lambda calls=calls, batches=batches: calls.append(1) or batches,
                 query if variant in ("ps", "ss") else None)
        assert len(calls) == (2 if variant == "pf" else 1), variant


def test_sequence_is_reused_by_every_inner_step_as_before():
    model, batches, _ = linear_problem()
    ref = copy.deepcopy(model)
    kw = dict(inner_optimizer=sgd_inner, inner_steps=3)
    DILWrapper(model, torch.optim.SGD(model.parameters(), lr=BETA), nn.MSELoss(), "pf", **kw).step(batches)
    sets = [batches] * 3
    DILWrapper(ref, torch.optim.SGD(ref.parameters(), lr=BETA), nn.MSELoss(), "pf", **kw).step(iter(sets).__next__)
    assert torch.equal(flat(model), flat(ref))


@pytest.mark.parametrize("bad", ["fewer confounders", "not a sequence", "wrong shape"])
def test_bad_later_draw_raises_and_rolls_back(bad):
    model, batches, _ = linear_problem()
    dil = DILWrapper(model, torch.optim.Adam(model.parameters(), lr=1e-2), nn.MSELoss(), "pf")
    dil.step(batches)  # non-empty optimizer states
    x, y = batches[0]
    second = {"fewer confounders": batches[:2], "not a sequence": x,
              "wrong shape": [(x[:, :2], y)] + batches[1:]}[bad]
    before = (flat(model), copy.deepcopy(dil.optimizer.state_dict()), copy.deepcopy(dil.inner_optimizer.state_dict()))
    with pytest.raises((ValueError, TypeError), match=r"confounder_batches\(\) call 2"):
        dil.step(iter([batches, second]).__next__)
    assert torch.equal(flat(model), before[0])
    for p_state, q_state in ((dil.optimizer.state_dict(), before[1]), (dil.inner_optimizer.state_dict(), before[2])):
        for k, st in p_state["state"].items():
            assert all(torch.equal(st[n], q_state["state"][k][n]) for n in st)
    dil.step(batches)  # and it keeps working
