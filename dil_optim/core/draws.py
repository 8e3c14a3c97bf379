"""``step(confounder_batches=...)``: a fixed set of batches, or a callable that draws fresh ones.

Alg. 3 (DIL_pf) samples new confounder batches for each of its inner steps. ``DILWrapper.step``
therefore takes either

- a sequence of batches, one per confounder: every inner step (DIL_pf's ``inner_steps``, DIL_sf's
  passes) reuses these same batches; or
- a zero-argument callable returning such a sequence: it is called once at the start of the
  step, and again for every further inner step of DIL_pf (every further pass of DIL_sf), so
  each one sees fresh batches. The other variants call it once.

Every draw is validated like the first and must have the same number of confounders.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Union

import torch
from torch import nn

__all__ = ["ConfounderBatches", "Draws"]

ConfounderBatches = Union[Sequence[Any], Callable[[], Sequence[Any]]]


class Draws:
    """The confounder batches of one step.

    Args:
        arg: what ``step`` was given (a sequence, or a callable returning one).
        validate: checks one set and returns it as a list (raises ``ValueError``/``TypeError``).

    ``first`` is the first set (drawn and validated on construction); :meth:`more` gives the
    set for a further inner step: a fresh draw for a callable, ``first`` again otherwise.
    """

    def __init__(self, arg: ConfounderBatches, validate: Callable[[Any], list[Any]]) -> None:
        is_draw = callable(arg) and not isinstance(arg, (Sequence, torch.Tensor, nn.Module, dict))
        self._draw: Callable[[], Sequence[Any]] | None = arg if is_draw else None  # type: ignore[assignment]
        self._validate = validate
        self.calls = 0
        self.first = self._call() if is_draw else validate(arg)

    @property
    def fresh(self) -> bool:
        """Whether further inner steps get newly drawn batches."""
        return self._draw is not None

    def _call(self) -> list[Any]:
        assert self._draw is not None
        self.calls += 1
        got = self._draw()
        try:
            return self._validate(got)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"confounder_batches() call {self.calls}: {exc}") from exc

    def more(self) -> list[Any]:
        """The batches of a further inner step (same number of confounders as ``first``)."""
        if self._draw is None:
            return self.first
        got = self._call()
        if len(got) != len(self.first):
            raise ValueError(
                f"confounder_batches() call {self.calls} returned {len(got)} batches, "
                f"the first call {len(self.first)}: every draw needs one batch per confounder"
            )
        return got
