"""``second_order="vmap"``: DIL_ss's n branches in one vectorised pass (``torch.func.vmap``).

Each branch i is the function theta -> L(f_phi_i(query)) / n with phi_i = vstep(theta,
grad L_i(theta)) (a ``torch.func.grad`` nested in ``torch.func.grad``); ``vmap`` runs the n of
them at once over the stacked confounder batches, so the n double-backward graphs live at the
same time (memory like DIL_ps's ``"graph"`` mode over the n batches) in exchange for fewer,
larger kernels. Buffers: each branch gets its own copies (batched along the vmapped dimension,
so in-place updates such as BatchNorm's running statistics stay per branch); the real buffers
then receive what the last branch's query forward left in its copy, which is what
``"graph"`` mode's one real forward leaves in them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.func import functional_call, grad, vmap
from torch.utils._pytree import tree_flatten, tree_unflatten

from .second_order import LossesFn, Scale, SecondOrderResult, _unscaled
from .virtual_step import VirtualStep

__all__ = ["serial_second_order_vmap", "stack_batches"]


def stack_batches(batches: Sequence[Any]) -> Any:
    """The n confounder batches as one batch whose tensors have a leading dimension n.

    Every batch must have the same structure (tuples, lists, dicts of tensors) and every
    tensor the same shape and dtype across batches; raises ``ValueError`` otherwise.
    """
    flat, specs = zip(*(tree_flatten(b) for b in batches))
    if any(s != specs[0] for s in specs[1:]):
        raise ValueError("second_order='vmap' needs confounder batches of one structure; they differ")
    stacked = []
    for j, leaves in enumerate(zip(*flat)):
        if not all(isinstance(x, torch.Tensor) for x in leaves):
            raise ValueError(
                "second_order='vmap' needs batches made of tensors only (tuples, lists, dicts of "
                f"tensors); leaf {j} is {type(leaves[0]).__name__}"
            )
        if any(x.shape != leaves[0].shape or x.dtype != leaves[0].dtype for x in leaves[1:]):
            raise ValueError(
                "second_order='vmap' stacks the confounder batches, so they must have equal shapes; got "
                + ", ".join(str(tuple(x.shape)) for x in leaves)
                + " (use second_order='graph' or 'hvp')"
            )
        stacked.append(torch.stack(list(leaves)))
    return tree_unflatten(stacked, specs[0])


def serial_second_order_vmap(
    module: nn.Module,
    theta: dict[str, torch.Tensor],
    batches: Sequence[Any],
    query: Any,
    losses_fn: LossesFn,
    vstep: VirtualStep,
    scale: Scale = _unscaled,
) -> SecondOrderResult:
    """DIL_ss's meta-gradient (that of :func:`~dil_optim.core.second_order.serial_second_order`)
    with the n branches vectorised. ``theta``: the trainable parameters (name -> tensor);
    the result's grads have their shapes. Raises ``ValueError`` naming the operation when
    ``vmap`` cannot run the model (the caller rolls the step back)."""
    n = len(batches)
    stacked = stack_batches(batches)
    s = scale(torch.ones((), device=next(iter(theta.values())).device))
    real = dict(module.named_buffers())

    def copies() -> dict[str, torch.Tensor]:
        return {k: b.detach().unsqueeze(0).expand(n, *b.shape).clone() for k, b in real.items()}

    inner_bufs, query_bufs = copies(), copies()

    def call(params: dict[str, torch.Tensor], bufs: dict[str, torch.Tensor]) -> Any:
        tensors = {**bufs, **params}
        return lambda *args, **kw: functional_call(module, tensors, args, kw, tie_weights=True, strict=False)

    def inner_loss(t: dict[str, torch.Tensor], batch: Any, bufs: dict[str, torch.Tensor]) -> Any:
        (loss,) = losses_fn(call(t, bufs), [batch])
        return loss * s, loss

    def branch(
        t: dict[str, torch.Tensor], batch: Any, ibufs: dict[str, torch.Tensor], qbufs: dict[str, torch.Tensor]
    ) -> Any:
        g_scaled, inner = grad(inner_loss, has_aux=True)(t, batch, ibufs)
        g = {k: v / s for k, v in g_scaled.items()}
        phi = vstep.apply(t, g)
        (outer,) = losses_fn(call(phi, qbufs), [query])
        return outer * s / n, (inner, outer, g)

    theta0 = {k: t.detach() for k, t in theta.items()}
    try:
        per_branch, (inner, outer, g) = vmap(
            grad(branch, has_aux=True), in_dims=(None, 0, 0, 0), randomness="different"
        )(theta0, stacked, inner_bufs, query_bufs)
    except (RuntimeError, NotImplementedError) as exc:
        raise ValueError(
            f"second_order='vmap' cannot vectorise this model's DIL_ss step with torch.func.vmap: {exc} "
            "(use second_order='graph' or 'hvp')"
        ) from exc
    with torch.no_grad():
        for k, b in real.items():
            b.copy_(query_bufs[k][n - 1])
    grads = {k: v.sum(0) for k, v in per_branch.items()}
    return SecondOrderResult(
        list(inner.detach().unbind(0)), outer.detach().mean(), grads, {k: v.detach().mean(0) for k, v in g.items()}
    )
