"""StepStats: what one DIL step measured, read from the device lazily."""

from __future__ import annotations

import torch

__all__ = ["StepStats", "finite", "non_finite_message", "total_norm"]


class StepStats:
    """What one :meth:`DILWrapper.step` measured, as plain floats.

    confounder_losses: loss of each confounder batch, in the order given (for DIL_sf at the
        weights its inner step started from; for DIL_pf at theta, the first inner step).
    outer_loss: ERM: the mean loss; DIL_sf/pf: the mean of ``confounder_losses``;
        DIL_ss/ps: the query loss at the virtually updated weights.
    grad_norm: L2 norm of the gradient handed to the outer optimizer (unscaled).

    The values live in one small device tensor until first read; reading them is the one
    device sync a step costs. With ``check_finite=True`` (the default) the wrapper reads them
    itself, to decide on the roll-back; with ``check_finite=False`` a step does not sync at all
    unless you read its stats. Under DDP they are averages over the ranks.
    """

    __slots__ = ("_n", "_values")

    def __init__(self, values: torch.Tensor | list[float], n_confounders: int) -> None:
        self._values = values
        self._n = n_confounders

    def _floats(self) -> list[float]:
        if isinstance(self._values, torch.Tensor):
            self._values = self._values.tolist()
        return self._values

    @property
    def confounder_losses(self) -> list[float]:
        return self._floats()[: self._n]

    @property
    def outer_loss(self) -> float:
        return self._floats()[self._n]

    @property
    def grad_norm(self) -> float:
        return self._floats()[self._n + 1]

    def __repr__(self) -> str:
        return (
            f"StepStats(confounder_losses={self.confounder_losses}, outer_loss={self.outer_loss}, "
            f"grad_norm={self.grad_norm})"
        )


def total_norm(grads: list[torch.Tensor]) -> torch.Tensor:
    """The L2 norm of all ``grads`` together, in float64, without a device sync."""
    if not grads:
        return torch.zeros(())
    norms = list(torch._foreach_norm([g.detach() for g in grads]))
    if len({n.dtype for n in norms}) > 1:
        norms = [n.double() for n in norms]
    return torch.linalg.vector_norm(torch.stack(norms).double())


def finite(x: float) -> bool:
    return x == x and x not in (float("inf"), float("-inf"))


def non_finite_message(values: list[float], variant: str) -> str:
    n = len(values) - 2
    bad = [f"confounder {i} loss = {v}" for i, v in enumerate(values[:n]) if not finite(v)]
    if not finite(values[n]):
        bad.append(f"outer loss = {values[n]}")
    if not finite(values[n + 1]):
        bad.append(f"gradient norm = {values[n + 1]}")
    return (
        f"non-finite value in DIL step (variant {variant!r}): {'; '.join(bad)}; "
        "parameters, buffers and optimizer state were left unchanged"
    )
