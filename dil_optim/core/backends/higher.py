"""The optional second-order backend built on Facebook's ``higher`` library.

Install it with ``pip install "dil-optim[higher]"``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

try:
    import higher as _higher
except ImportError as exc:  # pragma: no cover - exercised only where higher is absent
    raise ImportError(
        "backend='higher' needs the optional dependency 'higher': "
        'pip install "dil-optim[higher]" (or use the default backend="torch_func")'
    ) from exc

__all__ = ["HigherModel"]


class HigherModel:
    """Runs ``model`` with substituted parameters through ``higher.patch.monkeypatch``.

    ``higher``'s patched module keeps its own copies of the buffers. Every call starts from
    the real module's buffers; after a real (non-virtual) call, :meth:`commit` copies the
    updated buffers back into the module once the backward pass no longer needs them.
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self._names = [name for name, _ in model.named_parameters(remove_duplicate=False)]
        self._fmodel = _higher.patch.monkeypatch(model, copy_initial_weights=False, track_higher_grads=True)
        self._pending: dict[str, torch.Tensor] | None = None

    def bind(self, params: dict[str, torch.Tensor], *, virtual: bool) -> Callable[..., object]:
        own = dict(self.model.named_parameters(remove_duplicate=False))
        flat = [params.get(name, own[name]) for name in self._names]
        fmodel = self._fmodel

        def call(*args: object, **kwargs: object) -> object:
            _higher.patch.buffer_sync(self.model, fmodel)
            out = fmodel(*args, params=flat, **kwargs)
            if not virtual:
                self._pending = dict(_named_buffers(fmodel))
            return out

        return call

    def commit(self) -> None:
        """Copy the buffers left by the last real call into the real module."""
        if self._pending is None:
            return
        with torch.no_grad():
            for name, buf in self.model.named_buffers():
                new = self._pending.get(name)
                if new is not None and new is not buf:
                    buf.copy_(new)
        self._pending = None


def _named_buffers(module: nn.Module, prefix: str = "") -> list[tuple[str, torch.Tensor]]:
    out = [(prefix + k, v) for k, v in module._buffers.items() if v is not None]
    for name, child in module._modules.items():
        if child is not None:
            out.extend(_named_buffers(child, f"{prefix}{name}."))
    return out
