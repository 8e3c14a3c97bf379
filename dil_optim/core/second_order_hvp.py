"""``second_order="hvp"``: the meta-gradient of DIL_ps / DIL_ss as a query gradient plus
Hessian-vector products, without keeping any confounder batch's double-backward graph alive
while the query pass (or another batch's graph) is.

With the virtual step phi = theta - alpha * U(g(theta)), g the inner gradient and U the step's
direction (identity for SGD; Adam's, coordinate-wise in g with its moments as constants, so
its Jacobian is the diagonal U'(g), see :meth:`VirtualStep.direction_vjp`), the chain rule gives

    d L_q(phi) / d theta = (I - alpha * H U'(g))^T g_q = g_q - alpha * H (U'(g) * g_q)

where g_q = grad L_q at phi (a first-order gradient) and H = d g / d theta, symmetric. The
query loss depends on theta only through phi (the query forward runs with phi alone; frozen
parameters and buffers carry no gradient), so there is no direct term. For DIL_ps
g = (1/n) sum_i g_i, hence H w = (1/n) sum_i H_i w: one Hessian-vector product per confounder
batch, each graph freed before the next. For DIL_ss each branch has its own phi_i, g_q,i and
one H_i w_i. Cost: every inner batch runs twice (a first-order pass for g, then the HVP pass
once w is known), against once in ``"graph"`` mode; memory: one batch's double-backward
graph at a time (see docs/variants.md).

Under ``torch.distributed``, ``reduce`` averages g and w across ranks (as the differentiable
all-reduce of ``"graph"`` mode does forward and backward), so the result is the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from .backends import FunctionalModel
from .second_order import LossesFn, Reduce, Scale, SecondOrderResult, _grad, _identity, _unscaled
from .virtual_step import VirtualStep

__all__ = ["batch_coupled", "parallel_second_order_hvp", "serial_second_order_hvp"]


def _query_gradient(
    fm: FunctionalModel,
    theta: dict[str, torch.Tensor],
    g: dict[str, torch.Tensor],
    query: Any,
    losses_fn: LossesFn,
    vstep: VirtualStep,
    scale: Scale,
    weight: float,
    *,
    virtual: bool,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """phi = vstep(theta, g) as fresh leaves; returns the query loss at phi and
    ``d (scale(L_q) * weight) / d phi``, both graph-free."""
    with torch.no_grad():
        phi = vstep.apply({k: t.detach() for k, t in theta.items()}, g)
    phi = {k: v.detach().requires_grad_(True) for k, v in phi.items()}
    (outer,) = losses_fn(fm.bind(phi, virtual=virtual), [query])
    gq = _grad(scale(outer) * weight, phi, create_graph=False)
    return outer.detach(), gq


def _hvp(
    call: Any,
    theta: dict[str, torch.Tensor],
    group: Sequence[Any],
    w: dict[str, torch.Tensor],
    losses_fn: LossesFn,
    scale: Scale,
    weight: float,
) -> dict[str, torch.Tensor]:
    """``H w`` with H the Hessian of ``weight * sum(losses of group)`` at theta (double backward)."""
    losses = losses_fn(call, group)
    g = _grad(torch.stack(losses).sum() * weight, theta, create_graph=True, scale=scale)
    dot = sum((gk * w[k]).sum() for k, gk in g.items() if gk.requires_grad)
    if not isinstance(dot, torch.Tensor):  # no parameter reaches the loss: H = 0
        return {k: torch.zeros_like(t) for k, t in theta.items()}
    hv = torch.autograd.grad(dot, list(theta.values()), allow_unused=True)
    return {k: torch.zeros_like(t) if h is None else h for (k, t), h in zip(theta.items(), hv)}


def _combine(gq: dict[str, torch.Tensor], hv: dict[str, torch.Tensor], lr: float) -> dict[str, torch.Tensor]:
    """g_q - lr * H w, per name."""
    keys = list(gq)
    return dict(zip(keys, torch._foreach_add([gq[k] for k in keys], [hv[k] for k in keys], alpha=-lr)))


def parallel_second_order_hvp(
    fm: FunctionalModel,
    theta: dict[str, torch.Tensor],
    batches: Sequence[Any],
    query: Any,
    losses_fn: LossesFn,
    vstep: VirtualStep,
    reduce: Reduce = _identity,
    scale: Scale = _unscaled,
    *,
    split: bool = True,
) -> SecondOrderResult:
    """DIL_ps: the gradient of :func:`~dil_optim.core.second_order.parallel_second_order`,
    one confounder batch's graph at a time.

    ``split=False`` keeps the n batches together (one forward of the concatenated batch per
    pass), which is what a model with batch-coupled layers (BatchNorm in training mode)
    needs for the same numbers as ``"graph"``; memory then holds that batch's graph.
    """
    n = len(batches)
    groups = [[b] for b in batches] if split else [list(batches)]
    first_call = fm.bind(theta, virtual=True)
    hvp_call = fm.bind(theta, virtual=True)  # its own copy of the buffers as they were before the step
    losses: list[torch.Tensor] = []
    g = {k: torch.zeros_like(t) for k, t in theta.items()}
    for group in groups:  # 1. g = (1/n) sum_i grad L_i(theta), graph-free
        ls = losses_fn(first_call, group)
        gi = _grad(torch.stack(ls).sum() / n, theta, create_graph=False, scale=scale)
        torch._foreach_add_(list(g.values()), list(gi.values()))
        losses.extend(x.detach() for x in ls)
    g = dict(zip(g.keys(), reduce(list(g.values()))))
    outer, gq = _query_gradient(fm, theta, g, query, losses_fn, vstep, scale, 1.0, virtual=False)  # 2. g_q
    w = dict(zip(gq.keys(), reduce(list(vstep.direction_vjp(g, gq).values()))))  # 3. w = U'(g) * g_q
    hv = {k: torch.zeros_like(t) for k, t in theta.items()}
    for group in groups:  # 4. H w = (1/n) sum_i H_i w
        hi = _hvp(hvp_call, theta, group, w, losses_fn, scale, 1.0 / n)
        torch._foreach_add_(list(hv.values()), list(hi.values()))
    fm.commit()
    return SecondOrderResult(losses, outer, _combine(gq, hv, vstep.lr), {k: v.detach() for k, v in g.items()})


def serial_second_order_hvp(
    fm: FunctionalModel,
    theta: dict[str, torch.Tensor],
    batches: Sequence[Any],
    query: Any,
    losses_fn: LossesFn,
    vstep: VirtualStep,
    reduce: Reduce = _identity,
    scale: Scale = _unscaled,
) -> SecondOrderResult:
    """DIL_ss: the gradient of :func:`~dil_optim.core.second_order.serial_second_order`, per
    branch: g_i (first order), g_q,i at phi_i, then one HVP with w_i = U'(g_i) * g_q,i. Only
    the last branch's query forward updates the real buffers, as in ``"graph"`` mode."""
    n = len(batches)
    first_call = fm.bind(theta, virtual=True)
    hvp_call = fm.bind(theta, virtual=True)
    losses: list[torch.Tensor] = []
    outers: list[torch.Tensor] = []
    grads = {k: torch.zeros_like(t) for k, t in theta.items()}
    inner_sum = {k: torch.zeros_like(t) for k, t in theta.items()}
    for i, batch in enumerate(batches):
        (inner,) = losses_fn(first_call, [batch])
        g = _grad(inner, theta, create_graph=False, reduce=reduce, scale=scale)
        outer, gq = _query_gradient(fm, theta, g, query, losses_fn, vstep, scale, 1.0 / n, virtual=i < n - 1)
        w = dict(zip(gq.keys(), reduce(list(vstep.direction_vjp(g, gq).values()))))
        hv = _hvp(hvp_call, theta, [batch], w, losses_fn, scale, 1.0)
        torch._foreach_add_(list(grads.values()), list(_combine(gq, hv, vstep.lr).values()))
        torch._foreach_add_(list(inner_sum.values()), [x.detach() for x in g.values()], alpha=1.0 / n)
        losses.append(inner.detach())
        outers.append(outer)
    fm.commit()
    return SecondOrderResult(losses, torch.stack(outers).mean(), grads, inner_sum)


def batch_coupled(module: torch.nn.Module) -> bool:
    """Whether a forward pass of ``module`` mixes samples through batch statistics (a BatchNorm
    in training mode, or one without running statistics), so that the loss of a concatenated
    batch is not the mean of its parts' losses."""
    return any(
        isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and (m.training or m.running_mean is None)
        for m in module.modules()
    )
