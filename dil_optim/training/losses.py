"""Training losses the reproduction tables name."""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["CharbonnierLoss", "build_loss"]


class CharbonnierLoss(nn.Module):
    """``mean(sqrt((x - y)^2 + eps^2))``, a smooth L1 (the DIL paper's deraining loss, eps 1e-3)."""

    def __init__(self, eps: float = 1e-3) -> None:
        super().__init__()
        if not eps > 0:
            raise ValueError(f"eps must be positive, got {eps}")
        self.eps = float(eps)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        d = x - y
        return torch.sqrt(d * d + self.eps * self.eps).mean()

    def extra_repr(self) -> str:
        return f"eps={self.eps:g}"


def build_loss(name: str) -> nn.Module:
    """``"l1"``: :class:`torch.nn.L1Loss`; ``"charbonnier"``: :class:`CharbonnierLoss` (eps 1e-3)."""
    if name == "l1":
        return nn.L1Loss()
    if name == "charbonnier":
        return CharbonnierLoss(1e-3)
    raise ValueError(f"unknown loss {name!r}; expected 'l1' or 'charbonnier'")
