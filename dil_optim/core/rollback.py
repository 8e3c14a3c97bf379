"""Undo a failed DIL step: what it may change, copied into buffers kept across steps.

A step changes the parameters (first-order inner steps run in place), the module's buffers,
the inner optimizer's state, the order generator and a GradScaler's scale. :class:`Rollback`
copies them before the step with one multi-tensor copy per kind into storage it keeps between
steps (no allocation once shapes settle), and writes them back when the step fails.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["Rollback"]


class Rollback:
    def __init__(self) -> None:
        self._keep: dict[str, list[torch.Tensor]] = {}
        self._params: list[torch.Tensor] = []
        self._grads_of: list[torch.Tensor] = []
        self._buffers: list[torch.Tensor] = []
        self.theta: list[torch.Tensor] | None = None
        self._inner: Any = None
        self._opt: torch.optim.Optimizer | None = None
        self._generator: torch.Generator | None = None
        self._gen_state: torch.Tensor | None = None
        self._scaler: Any = None
        self._scaler_state: dict[str, Any] | None = None

    def take(
        self,
        params: list[torch.nn.Parameter],
        buffers: list[torch.Tensor],
        inner_optimizer: torch.optim.Optimizer | None,
        generator: torch.Generator,
        scaler: Any,
        *,
        theta: bool,
    ) -> None:
        """Copy the state a step may change; with ``theta`` also the parameters' values (for the
        first-order variants, whose inner steps move the parameters in place)."""
        self._params = list(params) if theta else []
        self._grads_of = list(params)
        self._buffers = [b for b in buffers if b.numel()]
        self.theta = self._copy("theta", [p.detach() for p in params]) if theta else None
        self._saved_buffers = self._copy("buffers", self._buffers)
        self._opt = inner_optimizer
        self._inner = self._take_optimizer(inner_optimizer) if inner_optimizer is not None else None
        self._generator, self._gen_state = generator, generator.get_state()
        self._scaler = scaler
        self._scaler_state = scaler.state_dict() if scaler is not None else None

    def restore(self) -> None:
        """Write everything back and clear the gradients."""
        with torch.no_grad():
            if self._params and self.theta is not None:
                torch._foreach_copy_(self._params, self.theta)
            if self._buffers:
                torch._foreach_copy_(self._buffers, self._saved_buffers)
        if self._inner is not None:
            self._restore_optimizer(*self._inner)
        if self._generator is not None and self._gen_state is not None:
            self._generator.set_state(self._gen_state)
        if self._scaler_state is not None:
            self._scaler.load_state_dict(self._scaler_state)
        for p in self._grads_of:
            p.grad = None

    def _copy(self, name: str, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        if not tensors:
            return []
        kept = self._keep.get(name)
        if (
            kept is None
            or len(kept) != len(tensors)
            or any(k.shape != t.shape or k.dtype != t.dtype or k.device != t.device for k, t in zip(kept, tensors))
        ):
            kept = self._keep[name] = [torch.empty_like(t) for t in tensors]
        with torch.no_grad():
            torch._foreach_copy_(kept, tensors)
        return kept

    def _take_optimizer(self, opt: torch.optim.Optimizer) -> tuple[list[tuple[Any, str]], list[torch.Tensor], dict]:
        state = opt.state
        entries = [(p, k) for p, st in state.items() for k, v in st.items() if isinstance(v, torch.Tensor)]
        saved = self._copy("inner", [state[p][k] for p, k in entries])
        others = {p: {k: v for k, v in st.items() if not isinstance(v, torch.Tensor)} for p, st in state.items()}
        return entries, saved, others

    def _restore_optimizer(self, entries: list[tuple[Any, str]], saved: list[torch.Tensor], others: dict) -> None:
        state = self._opt.state  # type: ignore[union-attr]
        tensor_keys = set(entries)
        for p in [p for p in state if p not in others]:  # state the failed step created
            del state[p]
        for p, st in state.items():
            for k in [k for k in st if k not in others[p] and (p, k) not in tensor_keys]:
                del st[k]
            st.update(others[p])
        if entries:
            with torch.no_grad():
                torch._foreach_copy_([state[p][k] for p, k in entries], saved)
