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
from typing import Any

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
        """phi for the given (graph-carrying) gradients; does not change the state.

        The arithmetic runs on one flat vector per (device, dtype) group, so a network of
        hundreds of parameter tensors costs a handful of kernels, not hundreds, forward and
        backward; phi's entries are views into that vector.
        """
        phi: dict[str, torch.Tensor] = {}
        for keys in _groups(theta):
            p, g = _flat(theta, keys), _flat(grads, keys)
            new = p - self.lr * g if self.kind == "sgd" else p - self.lr * self._adam_direction(keys, g)
            for k, part in zip(keys, new.split([theta[k].numel() for k in keys])):
                phi[k] = part.view_as(theta[k])
        return phi

    def _adam_direction(self, keys: list[str], g: torch.Tensor) -> torch.Tensor:
        b1, b2 = self.betas
        t = self.t + 1
        if all(k in self.exp_avg for k in keys):
            m = b1 * _flat(self.exp_avg, keys) + (1.0 - b1) * g
            v = b2 * _flat(self.exp_avg_sq, keys) + (1.0 - b2) * g * g
        else:
            m, v = (1.0 - b1) * g, (1.0 - b2) * g * g
        v_hat = v / (1.0 - b2**t)
        positive = v_hat > 0
        # sqrt(v_hat) where v_hat > 0, else 0, with a finite derivative everywhere.
        root = torch.where(positive, torch.where(positive, v_hat, torch.ones_like(v_hat)).sqrt(), 0.0)
        return (m / (1.0 - b1**t)) / (root + self.eps)

    @torch.no_grad()
    def direction_vjp(
        self, grads: dict[str, torch.Tensor], cotangent: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """``U'(g) * w``: the cotangent pulled back through the step's direction ``U(g)``.

        phi = theta - lr * U(g) with U the identity (``"sgd"``) or Adam's direction, which acts
        coordinate-wise on g (its moments and step count are constants), so its Jacobian is
        the diagonal ``U'(g)``:

            m = b1 m0 + (1 - b1) g,  v = b2 v0 + (1 - b2) g^2,  r = sqrt(v / c2),  c_i = 1 - b_i^t
            U = (m / c1) / (r + eps)
            U' = (1 - b1) / (c1 (r + eps)) - (m / c1) / (r + eps)^2 * (1 - b2) g / (c2 r)

        where v = 0 the second term is 0, as in :meth:`apply` (whose sqrt is guarded there).
        ``grads`` (detached, the g of :meth:`apply`) and ``cotangent`` share names and shapes;
        the result is detached, one tensor per name.
        """
        if self.kind == "sgd":
            return {k: cotangent[k].detach() for k in grads}
        b1, b2 = self.betas
        t = self.t + 1
        c1, c2 = 1.0 - b1**t, 1.0 - b2**t
        out: dict[str, torch.Tensor] = {}
        for keys in _groups(grads):
            g, w = _flat(grads, keys).detach(), _flat(cotangent, keys).detach()
            if all(k in self.exp_avg for k in keys):
                m = b1 * _flat(self.exp_avg, keys) + (1.0 - b1) * g
                v = b2 * _flat(self.exp_avg_sq, keys) + (1.0 - b2) * g * g
            else:
                m, v = (1.0 - b1) * g, (1.0 - b2) * g * g
            v_hat = v / c2
            positive = v_hat > 0
            root = torch.where(positive, torch.where(positive, v_hat, torch.ones_like(v_hat)).sqrt(), 0.0)
            den = root + self.eps
            d_root = torch.where(positive, (1.0 - b2) * g / (c2 * torch.where(positive, root, 1.0)), 0.0)
            diag = (1.0 - b1) / (c1 * den) - (m / c1) / (den * den) * d_root
            for k, part in zip(keys, (diag * w).split([grads[k].numel() for k in keys])):
                out[k] = part.view_as(grads[k])
        return out

    @torch.no_grad()
    def commit(self, grads: dict[str, torch.Tensor]) -> None:
        """Advance the moments with the detached gradient of a successful outer step."""
        self.t += 1
        if self.kind == "sgd":
            return
        b1, b2 = self.betas
        keys = list(grads)
        gs = [grads[k].detach() for k in keys]
        if not all(k in self.exp_avg for k in keys):
            self.exp_avg = {k: (1.0 - b1) * g for k, g in zip(keys, gs)}
            self.exp_avg_sq = {k: (1.0 - b2) * g * g for k, g in zip(keys, gs)}
            return
        ms, vs = [self.exp_avg[k] for k in keys], [self.exp_avg_sq[k] for k in keys]
        torch._foreach_mul_(ms, b1)
        torch._foreach_add_(ms, gs, alpha=1.0 - b1)
        torch._foreach_mul_(vs, b2)
        torch._foreach_addcmul_(vs, gs, gs, value=1.0 - b2)

    def state_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "t": self.t,
            "exp_avg": {k: v.clone() for k, v in self.exp_avg.items()},
            "exp_avg_sq": {k: v.clone() for k, v in self.exp_avg_sq.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("kind") != self.kind:
            raise ValueError(f"checkpoint's virtual step is {state.get('kind')!r}, this wrapper uses {self.kind!r}")
        self.t = int(state["t"])
        self.exp_avg = {k: v.clone() for k, v in state["exp_avg"].items()}
        self.exp_avg_sq = {k: v.clone() for k, v in state["exp_avg_sq"].items()}


def _groups(tensors: dict[str, torch.Tensor]) -> list[list[str]]:
    """Names grouped by (device, dtype), in order of first appearance."""
    groups: dict[tuple[torch.device, torch.dtype], list[str]] = {}
    for k, t in tensors.items():
        groups.setdefault((t.device, t.dtype), []).append(k)
    return list(groups.values())


def _flat(tensors: dict[str, torch.Tensor], keys: list[str]) -> torch.Tensor:
    return torch.cat([tensors[k].reshape(-1) for k in keys])
