"""Second-order backends: ways to run a module with parameters given as tensors.

A backend turns ``model`` into a :class:`FunctionalModel`: ``fm.bind(params, virtual=...)``
returns a callable that behaves like ``model`` but computes with ``params`` (a dict from
parameter name to tensor, usually non-leaf tensors that carry an autograd graph back to the
real parameters).

- ``virtual=True``: forward passes must not change the real module's buffers (BatchNorm
  running statistics and the like); the backend runs them on copies.
- ``virtual=False``: buffer updates are the real ones (an ordinary training forward).
  ``fm.commit()`` must be called once the backward pass is done.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import torch
from torch import nn

__all__ = ["FunctionalModel", "make_functional"]


class FunctionalModel(Protocol):
    def bind(self, params: dict[str, torch.Tensor], *, virtual: bool) -> Callable[..., object]: ...

    def commit(self) -> None: ...


def make_functional(model: nn.Module, backend: str) -> FunctionalModel:
    """Return the :class:`FunctionalModel` of ``model`` for ``backend`` ("torch_func" | "higher")."""
    if backend == "torch_func":
        from .torch_func import TorchFuncModel

        return TorchFuncModel(model)
    if backend == "higher":
        from .higher import HigherModel

        return HigherModel(model)
    raise ValueError(f"unknown backend {backend!r}; expected 'torch_func' or 'higher'")
