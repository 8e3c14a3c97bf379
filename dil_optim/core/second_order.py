"""DIL_ps (Eq. 5, Alg. 1) and DIL_ss (Eq. 4, Alg. 2): second-order meta-gradients.

Both functions return the gradient of the outer loss with respect to theta (the trainable
parameters), differentiating through the virtual update; they do not touch ``p.grad`` or any
optimizer. Under ``torch.distributed``, ``reduce`` averages the inner gradient across ranks
inside the graph (a differentiable all-reduce), so phi is the one a single process with the
global batch would compute and the outer gradient, once averaged, equals that process's. The
real module's parameters are never modified; its buffers change only through the single real
(non-virtual) forward pass on the query batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from .backends import FunctionalModel
from .virtual_step import VirtualStep

__all__ = ["SecondOrderResult", "parallel_second_order", "serial_second_order"]

LossesFn = Callable[[Callable[..., Any], Sequence[Any]], "list[torch.Tensor]"]
Reduce = Callable[["list[torch.Tensor]"], "list[torch.Tensor]"]


Scale = Callable[[torch.Tensor], torch.Tensor]


def _identity(tensors: list[torch.Tensor]) -> list[torch.Tensor]:
    return tensors


def _unscaled(loss: torch.Tensor) -> torch.Tensor:
    return loss


@dataclass
class SecondOrderResult:
    confounder_losses: list[torch.Tensor]  # detached, one per confounder, at theta
    outer_loss: torch.Tensor  # detached mean query loss at phi
    grads: dict[str, torch.Tensor]  # d outer_loss / d theta (times the loss scale, if any)
    inner_grad: dict[str, torch.Tensor]  # detached inner gradient (advances Adam's moments)


def _grad(
    loss: torch.Tensor,
    params: dict[str, torch.Tensor],
    *,
    create_graph: bool,
    reduce: Reduce = _identity,
    scale: Scale | None = None,
) -> dict[str, torch.Tensor]:
    """d loss / d params; with ``scale`` (float16 loss scaling) computed on the scaled loss and
    divided by the factor inside the graph, so the result is the true gradient."""
    target = loss if scale is None else scale(loss)
    gs = torch.autograd.grad(target, list(params.values()), create_graph=create_graph, allow_unused=True)
    full = [torch.zeros_like(p) if g is None else g for p, g in zip(params.values(), gs)]
    if scale is not None:
        full = list(torch._foreach_div(full, scale(torch.ones((), device=loss.device))))
    return dict(zip(params.keys(), reduce(full)))


def parallel_second_order(
    fm: FunctionalModel,
    theta: dict[str, torch.Tensor],
    batches: Sequence[Any],
    query: Any,
    losses_fn: LossesFn,
    vstep: VirtualStep,
    reduce: Reduce = _identity,
    scale: Scale = _unscaled,
) -> SecondOrderResult:
    """phi = theta - alpha * grad mean_i L_i(theta); returns grad_theta L(f_phi(query))."""
    inner = losses_fn(fm.bind(theta, virtual=True), batches)
    inner_mean = torch.stack(inner).mean()
    g = _grad(inner_mean, theta, create_graph=True, reduce=reduce, scale=scale)
    phi = vstep.apply(theta, g)
    (outer,) = losses_fn(fm.bind(phi, virtual=False), [query])
    grads = _grad(scale(outer), theta, create_graph=False)
    fm.commit()
    return SecondOrderResult([x.detach() for x in inner], outer.detach(), grads, {k: v.detach() for k, v in g.items()})


def serial_second_order(
    fm: FunctionalModel,
    theta: dict[str, torch.Tensor],
    batches: Sequence[Any],
    query: Any,
    losses_fn: LossesFn,
    vstep: VirtualStep,
    reduce: Reduce = _identity,
    scale: Scale = _unscaled,
) -> SecondOrderResult:
    """phi_i = theta - alpha * grad L_i(theta) per confounder; grad_theta of mean_i L(f_phi_i(query)).

    The n branches are independent; each one's graph is freed as soon as its gradient is
    accumulated, so memory does not grow with n. Only the last branch's query forward updates
    the real buffers (one buffer update per outer step, as an ordinary step makes).
    """
    n = len(batches)
    virtual_call = fm.bind(theta, virtual=True)
    losses: list[torch.Tensor] = []
    outers: list[torch.Tensor] = []
    grads = {k: torch.zeros_like(p) for k, p in theta.items()}
    inner_sum = {k: torch.zeros_like(p) for k, p in theta.items()}
    for i, batch in enumerate(batches):
        (inner,) = losses_fn(virtual_call, [batch])
        g = _grad(inner, theta, create_graph=True, reduce=reduce, scale=scale)
        phi = vstep.apply(theta, g)
        (outer,) = losses_fn(fm.bind(phi, virtual=i < n - 1), [query])
        gi = _grad(scale(outer) / n, theta, create_graph=False)
        torch._foreach_add_(list(grads.values()), list(gi.values()))
        torch._foreach_add_(list(inner_sum.values()), [x.detach() for x in g.values()], alpha=1.0 / n)
        losses.append(inner.detach())
        outers.append(outer.detach())
    fm.commit()
    return SecondOrderResult(losses, torch.stack(outers).mean(), grads, inner_sum)
