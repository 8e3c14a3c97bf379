"""A DIL_ps step through each backbone, with both second-order backends.

The small configurations run by default (float64): the step must equal an independent
computation of Eq. 5 (SGD virtual step, SGD outer step) and the two backends must agree.
The paper configurations (16.6M-parameter RRDB, 11.5M-parameter SwinIR) are marked slow.
"""

from __future__ import annotations

import copy
import importlib.util

import pytest
import torch
from torch import nn
from torch.func import functional_call

from dil_optim import DILWrapper
from dil_optim.models import build_model

HAVE_HIGHER = importlib.util.find_spec("higher") is not None
BACKENDS = ["torch_func", pytest.param("higher", marks=pytest.mark.skipif(
    not HAVE_HIGHER, reason="optional dependency 'higher' is not installed"))]

ALPHA, LR = 0.05, 0.1
SMALL = [("rrdb_small", {}), ("swinir_small", {}), ("dncnn", {}), ("dncnn", {"residual": False})]


def _batches(n_conf=2, batch=1, size=(6, 7), dtype=torch.float64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    clean = torch.rand(batch, 3, *size, generator=gen, dtype=dtype)
    confs = []
    for i in range(n_conf):  # AWGN at two levels on the same content, clipped to [0, 1]
        noise = torch.randn(clean.shape, generator=gen, dtype=dtype) * (0.05 * (i + 1))
        confs.append(((clean + noise).clamp(0, 1), clean))
    q_clean = torch.rand(batch, 3, *size, generator=gen, dtype=dtype)
    query = ((q_clean + 0.1 * torch.randn(q_clean.shape, generator=gen, dtype=dtype)).clamp(0, 1), q_clean)
    return confs, query


def _reference_ps_update(model, confs, query, loss_fn):
    """theta - LR * d/dtheta L(f_phi(query)), phi = theta - ALPHA * grad mean_i L(f_theta(x_i), y_i)."""
    theta = {k: p.detach().clone().requires_grad_(True) for k, p in model.named_parameters()}
    buffers = {k: b for k, b in model.named_buffers()}
    inner = torch.stack([loss_fn(functional_call(model, (theta, buffers), (x,)), y) for x, y in confs]).mean()
    grads = torch.autograd.grad(inner, list(theta.values()), create_graph=True)
    phi = {k: t - ALPHA * g for (k, t), g in zip(theta.items(), grads)}
    outer = loss_fn(functional_call(model, (phi, buffers), (query[0],)), query[1])
    meta = torch.autograd.grad(outer, list(theta.values()))
    return {k: (t - LR * g).detach() for (k, t), g in zip(theta.items(), meta)}, outer.item()


def _ps_step(model, confs, query, backend, loss_fn, virtual_step="sgd", inner_lr=ALPHA):
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    dil = DILWrapper(model, opt, loss_fn, "ps", inner_lr=inner_lr, virtual_step=virtual_step,
                     backend=backend)
    return dil.step(confs, query)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name, overrides", SMALL)
def test_small_backbone_ps_step_matches_eq5(name, overrides, backend):
    torch.manual_seed(0)
    base = build_model(name, **overrides).double()
    confs, query = _batches()
    loss_fn = nn.L1Loss()
    expected, expected_outer = _reference_ps_update(base, confs, query, loss_fn)
    theta0 = {k: v.clone() for k, v in base.state_dict().items()}
    buffers0 = {k: b.clone() for k, b in base.named_buffers()}
    model = copy.deepcopy(base)
    stats = _ps_step(model, confs, query, backend, loss_fn)
    assert stats.outer_loss == pytest.approx(expected_outer, rel=1e-9)
    assert stats.grad_norm > 0 and len(stats.confounder_losses) == 2
    got = dict(model.named_parameters())
    for k, v in expected.items():
        torch.testing.assert_close(got[k].detach(), v, rtol=1e-9, atol=1e-12)
    moved = sum(not torch.equal(got[k].detach(), theta0[k]) for k in expected)
    assert moved == len(expected)  # every parameter received a meta-gradient
    buffers = dict(model.named_buffers())
    assert buffers.keys() == buffers0.keys()
    assert all(torch.equal(buffers[k], v) for k, v in buffers0.items())  # untouched


@pytest.mark.skipif(not HAVE_HIGHER, reason="optional dependency 'higher' is not installed")
@pytest.mark.parametrize("name", ["rrdb_small", "swinir_small"])
def test_small_backbone_ps_adam_virtual_step_backends_agree(name):
    torch.manual_seed(1)
    base = build_model(name).double()
    confs, query = _batches(seed=1)
    states, outs = [], []
    for backend in ("torch_func", "higher"):
        model = copy.deepcopy(base)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        dil = DILWrapper(model, opt, nn.L1Loss(), "ps", inner_lr=1e-3, backend=backend)
        outs.append([dil.step(confs, query).outer_loss for _ in range(2)])
        states.append(model.state_dict())
    assert outs[0] == pytest.approx(outs[1], rel=1e-10)
    for k in states[0]:
        torch.testing.assert_close(states[0][k], states[1][k], rtol=1e-10, atol=1e-12)


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_HIGHER, reason="optional dependency 'higher' is not installed")
@pytest.mark.parametrize("name", ["rrdb", "swinir"])
def test_paper_backbone_ps_step_both_backends(name):
    """Paper configurations, float32, 16x16 crops: both backends give the same update."""
    torch.manual_seed(0)
    overrides = {"drop_path_rate": 0.0} if name == "swinir" else {}  # same randomness in both runs
    base = build_model(name, **overrides)
    confs, query = _batches(size=(16, 16), dtype=torch.float32)
    theta0 = {k: v.detach().clone() for k, v in base.named_parameters()}
    results = []
    for backend in ("torch_func", "higher"):
        model = copy.deepcopy(base)
        stats = _ps_step(model, confs, query, backend, nn.L1Loss(), virtual_step="adam",
                         inner_lr=1e-4)
        assert stats.outer_loss == stats.outer_loss and stats.grad_norm == stats.grad_norm
        assert stats.grad_norm > 0
        results.append((stats, {k: p.detach() for k, p in model.named_parameters()}))
    (sa, pa), (sb, pb) = results
    assert sa.outer_loss == pytest.approx(sb.outer_loss, rel=1e-5)
    assert sa.grad_norm == pytest.approx(sb.grad_norm, rel=1e-3)
    for k in pa:
        torch.testing.assert_close(pa[k], pb[k], rtol=1e-4, atol=1e-6)
    assert any(not torch.equal(pa[k], theta0[k]) for k in pa)
