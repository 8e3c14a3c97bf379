"""second_order="hvp" | "vmap" against "graph": same gradients (float64), buffers, stats, errors."""

from __future__ import annotations

import copy
import logging

import pytest
import torch
from torch import nn
from toys import flat, image_batches, linear_problem, mse_grad, mse_hessian, small_convnet

from dil_optim import DILWrapper
from dil_optim.core.virtual_step import VirtualStep

ALPHA = 0.05
CASES = [("ps", "hvp", "torch_func"), ("ps", "hvp", "higher"), ("ss", "hvp", "torch_func"),
         ("ss", "hvp", "higher"), ("ss", "vmap", "torch_func")]


def _grads(model):
    return torch.cat([p.grad.reshape(-1) for p in model.parameters() if p.grad is not None])


def _run(base, variant, mode, backend, virtual_step, batches, query, steps=2, **kw):
    """Per step: the meta-gradient and the stats; then the model (outer SGD, so that round-off
    is not amplified the way Adam's normalisation amplifies it at tiny gradients)."""
    model = copy.deepcopy(base)
    dil = DILWrapper(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.L1Loss(), variant, inner_lr=1e-2,
                     virtual_step=virtual_step, backend=backend, second_order=mode, **kw)
    out = []
    for _ in range(steps):  # the second step runs with Adam moments carried from the first
        stats = dil.step(batches, query)
        out.append((_grads(model), stats))
    return out, model, dil


@pytest.mark.parametrize("virtual_step", ["adam", "sgd"])
@pytest.mark.parametrize("batchnorm", [False, True], ids=["plain", "batchnorm"])
@pytest.mark.parametrize("variant,mode,backend", CASES)
def test_mode_equals_graph_on_conv_net(variant, mode, backend, virtual_step, batchnorm):
    torch.manual_seed(0)
    base = small_convnet(batchnorm=batchnorm).double()
    batches, query = image_batches(dtype=torch.float64)
    ref, ref_model, ref_dil = _run(base, variant, "graph", "torch_func", virtual_step, batches, query)
    got, model, dil = _run(base, variant, mode, backend, virtual_step, batches, query)
    for (ga, sa), (gb, sb) in zip(ref, got):
        assert ga.abs().max() > 1e-4  # a real gradient
        torch.testing.assert_close(gb, ga, rtol=1e-10, atol=1e-10)
        assert sb.confounder_losses == pytest.approx(sa.confounder_losses, rel=1e-10, abs=1e-12)
        assert sb.outer_loss == pytest.approx(sa.outer_loss, rel=1e-10)
        assert sb.grad_norm == pytest.approx(sa.grad_norm, rel=1e-10)
    # Parameters and BatchNorm buffers alike; after two steps, as the second step's Adam virtual
    # step normalises coordinates whose gradient is tiny, 1e-17 of round-off can reach ~1e-12.
    for k, v in ref_model.state_dict().items():
        torch.testing.assert_close(model.state_dict()[k], v, rtol=1e-8, atol=1e-10, msg=k)
    for k, v in ref_dil.vstep.exp_avg.items():
        torch.testing.assert_close(dil.vstep.exp_avg[k], v, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("variant,mode,backend", CASES)
def test_linear_closed_form_with_sgd_virtual_step(variant, mode, backend):
    model, batches, query = linear_problem()
    theta = flat(model)
    DILWrapper(model, torch.optim.SGD(model.parameters(), lr=0.0), nn.MSELoss(), variant, inner_lr=ALPHA,
               virtual_step="sgd", backend=backend, second_order=mode).step(batches, query)
    eye = torch.eye(len(theta), dtype=theta.dtype)
    if variant == "ps":  # (I - a mean_i H_i) g_q(theta - a mean_i g_i)
        phi = theta - ALPHA * torch.stack([mse_grad(theta, b) for b in batches]).mean(0)
        h = torch.stack([mse_hessian(b) for b in batches]).mean(0)
        expected = (eye - ALPHA * h) @ mse_grad(phi, query)
    else:  # mean_i (I - a H_i) g_q(theta - a g_i)
        expected = torch.stack([(eye - ALPHA * mse_hessian(b)) @ mse_grad(theta - ALPHA * mse_grad(theta, b), query)
                                for b in batches]).mean(0)
    got = torch.cat([model.weight.grad.reshape(-1), model.bias.grad.reshape(-1)])
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-12)


def test_adam_direction_jacobian_is_the_autograd_diagonal():
    gen = torch.Generator().manual_seed(0)
    vs = VirtualStep("adam", lr=1e-3)
    g = {"a": torch.randn(5, generator=gen, dtype=torch.float64),
         "b": torch.randn(2, 3, generator=gen, dtype=torch.float64)}
    g["a"][1] = 0.0  # v = 0 at this coordinate on the first step: the guarded branch
    w = {k: torch.randn(v.shape, generator=gen, dtype=torch.float64) for k, v in g.items()}
    for _ in range(2):  # without moments, then with moments carried (and one more zero)
        leaf = {k: v.clone().requires_grad_(True) for k, v in g.items()}
        theta = {k: torch.zeros_like(v) for k, v in g.items()}
        phi = vs.apply(theta, leaf)  # phi = -lr U(g): d phi / d g = -lr U'(g)
        auto = torch.autograd.grad(sum((p * w[k]).sum() for k, p in phi.items()), list(leaf.values()))
        mine = vs.direction_vjp(g, w)
        for m, a in zip(mine.values(), auto):
            # At t = 1, U ~ sign(g): U' = eps / (|g| + eps)^2 is a near-cancellation of two terms
            # of size ~1/|g|, so compare to round-off of those terms (lr * 1e-14), not relatively.
            torch.testing.assert_close(-vs.lr * m, a, rtol=1e-10, atol=vs.lr * 1e-14)
        vs.commit({k: torch.where(v == 0, v, v + 0.5) for k, v in g.items()})


@pytest.mark.parametrize("variant,mode,backend", CASES)
def test_virtual_passes_leave_real_buffers_like_one_ordinary_forward(variant, mode, backend):
    torch.manual_seed(0)
    model = small_convnet(batchnorm=True).double()
    batches, query = image_batches(dtype=torch.float64)
    bn = model[1]
    dil = DILWrapper(model, torch.optim.SGD(model.parameters(), lr=0.0), nn.L1Loss(), variant, inner_lr=1e-2,
                     backend=backend, second_order=mode)
    dil.step(batches, query)
    assert bn.num_batches_tracked.item() == 1  # only the (last branch's) query forward is real
    # lr 0: theta unchanged, so the real update is that of an ordinary forward of the query at phi,
    # whose batch mean moved little from theta's: compare with a forward at theta.
    torch.manual_seed(0)
    ref = small_convnet(batchnorm=True).double()
    ref(query[0])
    torch.testing.assert_close(bn.running_var, ref[1].running_var, rtol=0.05, atol=1e-3)


def test_hvp_with_custom_forward_fn_and_frozen_parameter_equals_graph():
    torch.manual_seed(0)
    base = small_convnet().double()
    base[0].bias.requires_grad_(False)
    batches, query = image_batches(dtype=torch.float64)
    as_dicts = [{"x": x, "y": y} for x, y in batches]
    q = {"x": query[0], "y": query[1]}
    fwd = lambda model, b: (model(b["x"]), b["y"])  # noqa: E731
    for variant in ("ps", "ss"):
        ref, *_ = _run(base, variant, "graph", "torch_func", "adam", as_dicts, q, steps=1, forward_fn=fwd)
        modes = ["hvp", "vmap"] if variant == "ss" else ["hvp"]
        for mode in modes:
            got, model, _ = _run(base, variant, mode, "torch_func", "adam", as_dicts, q, steps=1, forward_fn=fwd)
            torch.testing.assert_close(got[0][0], ref[0][0], rtol=1e-10, atol=1e-10)
            assert model[0].bias.grad is None


def test_hvp_keeps_batchnorm_batches_together_and_says_so(caplog):
    torch.manual_seed(0)
    model = small_convnet(batchnorm=True).double()
    batches, query = image_batches(dtype=torch.float64)
    dil = DILWrapper(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.L1Loss(), "ps", second_order="hvp")
    with caplog.at_level(logging.INFO, logger="dil_optim.core.wrapper"):
        dil.step(batches, query)
    assert "concatenated" in caplog.text
    model.eval()  # running statistics: samples independent, batches split
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="dil_optim.core.wrapper"):
        dil.step(batches, query)
    assert "concatenated" not in caplog.text


def test_mode_in_state_and_resume_across_modes():
    torch.manual_seed(0)
    base = small_convnet().double()
    batches, query = image_batches(dtype=torch.float64)
    _, _, dil = _run(base, "ss", "vmap", "torch_func", "adam", batches, query, steps=1)
    state = dil.state_dict()
    assert state["second_order"] == "vmap"
    model = copy.deepcopy(base)
    other = DILWrapper(model, torch.optim.SGD(model.parameters(), lr=0.1), variant="ss", second_order="hvp")
    other.load_state_dict(state)  # the modes share every number, so a run may switch between them
    assert other.vstep.t == 1 and other.second_order == "hvp"


def test_bad_second_order_arguments():
    model = small_convnet()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="unknown second_order 'jvp'.*'graph', 'hvp', 'vmap'"):
        DILWrapper(model, opt, variant="ps", second_order="jvp")
    with pytest.raises(ValueError, match="DIL_ss's n independent branches"):
        DILWrapper(model, opt, variant="ps", second_order="vmap")
    with pytest.raises(ValueError, match="needs backend='torch_func'"):
        DILWrapper(model, opt, variant="ss", second_order="vmap", backend="higher")
    for variant in ("erm", "sf", "pf"):
        with pytest.raises(ValueError, match="DIL_ss and DIL_ps only"):
            DILWrapper(model, opt, variant=variant, second_order="hvp")


class _ItemNet(nn.Module):
    """A forward that reads a value to Python (data-dependent), which vmap cannot batch."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return y * 2.0 if y.mean().item() > -1e9 else y


def _state(model, opt, dil):
    opt_tensors = [v.clone() for st in opt.state.values() for v in st.values()]
    return ([t.clone() for t in model.state_dict().values()] + opt_tensors, dil.vstep.t,
            {k: v.clone() for k, v in dil.vstep.exp_avg.items()})


def _same(a, b):
    assert len(a[0]) == len(b[0]) and all(torch.equal(x, y) for x, y in zip(a[0], b[0])) and a[1] == b[1]
    assert a[2].keys() == b[2].keys() and all(torch.equal(a[2][k], b[2][k]) for k in a[2])


@pytest.mark.parametrize("case", ["unbatchable op", "unequal batch sizes"])
def test_vmap_failure_is_a_clear_error_that_changes_nothing(case):
    torch.manual_seed(0)
    model = _ItemNet() if case == "unbatchable op" else small_convnet(batchnorm=True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    dil = DILWrapper(model, opt, nn.L1Loss(), "ss", inner_lr=1e-3, second_order="vmap")
    batches, query = image_batches()
    if case == "unequal batch sizes":
        dil.step(batches, query)  # non-empty state to protect
        batches = [batches[0], (batches[1][0][:1], batches[1][1][:1])]
    before = _state(model, opt, dil)
    with pytest.raises(ValueError, match="second_order='vmap'"):
        dil.step(batches, query)
    _same(before, _state(model, opt, dil))
