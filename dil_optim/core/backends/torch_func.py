"""The default second-order backend: :func:`torch.func.functional_call`."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call

__all__ = ["TorchFuncModel"]


class TorchFuncModel:
    """Runs ``model`` with substituted parameters through ``torch.func.functional_call``.

    Frozen parameters and buffers come from the module itself. A virtual call gets clones of
    the buffers, so in-place updates (BatchNorm running statistics) land on the clones; a real
    call passes the module's own buffers, which the forward then updates in place, exactly as
    an ordinary forward would.
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    def bind(self, params: dict[str, torch.Tensor], *, virtual: bool) -> Callable[..., object]:
        buffers = {k: (b.clone() if virtual else b) for k, b in self.model.named_buffers()}
        tensors = {**buffers, **params}

        def call(*args: object, **kwargs: object) -> object:
            return functional_call(self.model, tensors, args, kwargs, tie_weights=True, strict=False)

        return call

    def commit(self) -> None:
        """Nothing to do: real calls already updated the module's buffers in place."""
