"""ERM and the first-order variants DIL_sf (Alg. 4) and DIL_pf (Alg. 3).

The first-order variants are Reptile-style: starting from theta, take inner optimizer steps on
the real parameters, then hand ``theta - theta_tilde`` to the outer optimizer as the gradient
and put theta back. (Alg. 3/4 print ``theta - beta (theta_tilde - theta)``, a sign slip: that
would move away from the adapted weights; the Reptile direction is ``theta - theta_tilde``.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch

__all__ = ["inner_loop", "reptile_gradients"]

LossesFn = Callable[[Sequence[Any]], "list[torch.Tensor]"]


def inner_loop(
    params: Sequence[torch.nn.Parameter],
    inner_opt: torch.optim.Optimizer,
    schedule: Iterable[Sequence[Any]],
    losses_fn: LossesFn,
    after_backward: Callable[[], None] | None = None,
    scaler: torch.amp.GradScaler | None = None,
) -> list[list[torch.Tensor]]:
    """Take one ``inner_opt`` step per entry of ``schedule`` on the mean loss of its batches
    (``schedule`` may be a generator, so batches can be drawn as the steps go).

    ``after_backward`` runs between the backward pass and the inner step (e.g. averaging the
    inner gradients across ranks). With a ``scaler`` (float16) the loss is scaled and the
    scaler steps ``inner_opt``, skipping steps whose gradients overflowed. Returns the detached
    per-batch losses of every inner step. Leaves ``p.grad`` holding the last inner gradient; the
    caller replaces it.
    """
    history: list[list[torch.Tensor]] = []
    for group in schedule:
        losses = losses_fn(group)
        loss = losses[0] if len(losses) == 1 else torch.stack(losses).mean()
        for p in params:
            p.grad = None
        (loss if scaler is None else scaler.scale(loss)).backward()
        if after_backward is not None:
            after_backward()
        if scaler is None:
            inner_opt.step()
        else:
            scaler.step(inner_opt)
            scaler.update()
        history.append([x.detach() for x in losses])
    return history


@torch.no_grad()
def reptile_gradients(params: Sequence[torch.nn.Parameter], theta: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Set ``p.grad = theta - p`` and restore ``p = theta`` for every parameter; return the grads."""
    plist: list[torch.Tensor] = list(params)
    deltas = list(torch._foreach_sub(list(theta), plist))
    torch._foreach_copy_(plist, list(theta))
    for p, d in zip(plist, deltas):
        p.grad = d
    return deltas
