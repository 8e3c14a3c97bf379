"""The differentiable virtual update theta -> phi of Eq. 3/5.

- ``"sgd"``: phi = theta - lr * g, exactly Eq. 3/5 of the paper.
- ``"adam"``: one Adam step (``torch.optim.Adam`` semantics, no weight decay) written with
  differentiable tensor ops, as the paper's implementation uses for DIL_ss/DIL_ps
  (supplementary Sec. 11.1, "the same two Adam optimizers as ERM"). The first and second
  moments of earlier outer steps enter as constants (no graph across outer steps); the moments
  are advanced with the detached inner gradient only once a step succeeds (:meth:`commit`).
  At a coordinate where the second moment is zero, sqrt has an infinite derivative; the step
  is written so that both its value (0) and its derivative stay finite there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

__all__ = ["VirtualStep"]


@dataclass
class VirtualStep:
    """State and hyper-parameters of the virtual update.

    Args:
        kind: ``"adam"`` or ``"sgd"``.
        lr: the virtual learning rate alpha.
        betas, eps: Adam's coefficients (ignored for ``"sgd"``).
    """

    kind: str = "adam"
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    t: int = 0
    exp_avg: dict[str, torch.Tensor] = field(default_factory=dict)
    exp_avg_sq: dict[str, torch.Tensor] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in ("adam", "sgd"):
            raise ValueError(f"virtual_step must be 'adam' or 'sgd', got {self.kind!r}")
        if not self.lr > 0:
            raise ValueError(f"inner_lr must be > 0, got {self.lr}")
        b1, b2 = self.betas
        if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
            raise ValueError(f"virtual Adam betas must lie in [0, 1), got {self.betas}")

    def apply(self, theta: dict[str, torch.Tensor], grads: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """phi for the given (graph-carrying) gradients; does not change the state."""
        if self.kind == "sgd":
            return {k: theta[k] - self.lr * grads[k] for k in theta}
        b1, b2 = self.betas
        t = self.t + 1
        c1, c2 = 1.0 - b1**t, 1.0 - b2**t
        phi = {}
        for k, p in theta.items():
            g = grads[k]
            m_prev, v_prev = self.exp_avg.get(k), self.exp_avg_sq.get(k)
            m = (1.0 - b1) * g if m_prev is None else b1 * m_prev + (1.0 - b1) * g
            v = (1.0 - b2) * g * g if v_prev is None else b2 * v_prev + (1.0 - b2) * g * g
            v_hat = v / c2
            positive = v_hat > 0
            # sqrt(v_hat) where v_hat > 0, else 0, with a finite derivative everywhere.
            root = torch.where(positive, torch.where(positive, v_hat, torch.ones_like(v_hat)).sqrt(), 0.0)
            phi[k] = p - self.lr * (m / c1) / (root + self.eps)
        return phi

    @torch.no_grad()
    def commit(self, grads: dict[str, torch.Tensor]) -> None:
        """Advance the moments with the detached gradient of a successful outer step."""
        if self.kind == "sgd":
            self.t += 1
            return
        b1, b2 = self.betas
        for k, g in grads.items():
            g = g.detach()
            if k in self.exp_avg:
                self.exp_avg[k].mul_(b1).add_(g, alpha=1.0 - b1)
                self.exp_avg_sq[k].mul_(b2).addcmul_(g, g, value=1.0 - b2)
            else:
                self.exp_avg[k] = (1.0 - b1) * g
                self.exp_avg_sq[k] = (1.0 - b2) * g * g
        self.t += 1

    def state_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "t": self.t,
            "exp_avg": {k: v.clone() for k, v in self.exp_avg.items()},
            "exp_avg_sq": {k: v.clone() for k, v in self.exp_avg_sq.items()},
        }

    def load_state_dict(self, state: dict[str, object]) -> None:
        if state.get("kind") != self.kind:
            raise ValueError(f"checkpoint's virtual step is {state.get('kind')!r}, this wrapper uses {self.kind!r}")
        self.t = int(state["t"])  # type: ignore[arg-type]
        self.exp_avg = {k: v.clone() for k, v in state["exp_avg"].items()}  # type: ignore[union-attr]
        self.exp_avg_sq = {k: v.clone() for k, v in state["exp_avg_sq"].items()}  # type: ignore[union-attr]
