"""Toy problems where the optimizer maths has a closed form (shared by the wrapper tests)."""

from __future__ import annotations

import torch
from torch import nn


def linear_problem(n_conf: int = 3, n: int = 5, d: int = 4, seed: int = 0):
    """A float64 linear model and ``n_conf`` confounder batches plus a query batch for MSE."""
    g = torch.Generator().manual_seed(seed)
    model = nn.Linear(d, 1).double()
    with torch.no_grad():
        model.weight.copy_(torch.randn(1, d, generator=g, dtype=torch.float64))
        model.bias.copy_(torch.randn(1, generator=g, dtype=torch.float64))
    batches = [
        (torch.randn(n, d, generator=g, dtype=torch.float64), torch.randn(n, 1, generator=g, dtype=torch.float64))
        for _ in range(n_conf)
    ]
    query = (torch.randn(n, d, generator=g, dtype=torch.float64), torch.randn(n, 1, generator=g, dtype=torch.float64))
    return model, batches, query


def flat(model: nn.Linear) -> torch.Tensor:
    """theta = [w, b] as one vector."""
    return torch.cat([model.weight.detach().reshape(-1), model.bias.detach().reshape(-1)]).clone()


def augmented(x: torch.Tensor) -> torch.Tensor:
    return torch.cat([x, torch.ones(x.shape[0], 1, dtype=x.dtype)], dim=1)


def mse_grad(theta: torch.Tensor, batch) -> torch.Tensor:
    """Closed-form gradient of mean((X theta - y)^2) with X augmented by a ones column."""
    x, y = batch
    a = augmented(x)
    r = a @ theta - y.reshape(-1)
    return 2.0 / a.shape[0] * a.T @ r


def mse_hessian(batch) -> torch.Tensor:
    a = augmented(batch[0])
    return 2.0 / a.shape[0] * a.T @ a


def small_convnet(batchnorm: bool = False) -> nn.Module:
    layers: list[nn.Module] = [nn.Conv2d(3, 4, 3, padding=1)]
    if batchnorm:
        layers.append(nn.BatchNorm2d(4))
    layers += [nn.Tanh(), nn.Conv2d(4, 3, 3, padding=1)]
    return nn.Sequential(*layers)


def image_batches(n_conf: int = 3, n: int = 2, size: int = 6, seed: int = 0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    mk = lambda: (torch.rand(n, 3, size, size, generator=g, dtype=dtype), torch.rand(n, 3, size, size, generator=g, dtype=dtype))  # noqa: E731
    return [mk() for _ in range(n_conf)], mk()
