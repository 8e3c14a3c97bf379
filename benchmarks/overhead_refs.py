"""The configurations ``benchmarks/overhead.py`` times: the wrapper, hand-written loops doing
the same gradient evaluations, and the authors' DIL_sf structure (see that script's docstring).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from dil_optim import DILWrapper

OUTER_LR, INNER_LR, BETAS, EPS = 1e-4, 1e-4, (0.9, 0.999), 1e-8
Step = Callable[[], list[float]]
Batch = tuple[torch.Tensor, torch.Tensor]


def conv_net(channels: int, layers: int = 6) -> nn.Module:
    """``layers`` 3x3 convs (3 -> channels -> ... -> 3) with ReLU between: (N,3,H,W) -> (N,3,H,W)."""
    mods: list[nn.Module] = []
    for i in range(layers):
        mods.append(nn.Conv2d(3 if i == 0 else channels, 3 if i == layers - 1 else channels, 3, padding=1))
        if i < layers - 1:
            mods.append(nn.ReLU())
    return nn.Sequential(*mods)


def make_data(n_conf: int, batch: int, size: int, device: torch.device, dtype: torch.dtype,
              seed: int = 0) -> tuple[list[Batch], Batch]:
    """n_conf AWGN confounders (sigma 5, 10, 15, ... on the 0-255 scale) of one clean batch in
    [0, 1], shape (batch, 3, size, size), plus a query pair from another clean batch."""
    g = torch.Generator().manual_seed(seed)

    def noisy(clean: torch.Tensor, sigma: float) -> torch.Tensor:
        return (clean + sigma / 255 * torch.randn(clean.shape, generator=g, dtype=dtype)).clamp(0, 1)

    clean = torch.rand(batch, 3, size, size, generator=g, dtype=dtype)
    batches = [(noisy(clean, 5.0 * (i + 1)), clean) for i in range(n_conf)]
    qclean = torch.rand(batch, 3, size, size, generator=g, dtype=dtype)
    query = (noisy(qclean, 15.0), qclean)
    mv = lambda b: (b[0].to(device), b[1].to(device))  # noqa: E731
    return [mv(b) for b in batches], mv(query)


# ----------------------------------------------------------------------------- the references
def _hand_erm(model: nn.Module, opt: torch.optim.Optimizer, batches: list[Batch]) -> Step:
    def step() -> list[float]:
        opt.zero_grad(set_to_none=True)
        loss = F.l1_loss(model(torch.cat([b[0] for b in batches])), torch.cat([b[1] for b in batches]))
        loss.backward()
        opt.step()
        return [loss.item()]
    return step


def _hand_first_order(variant: str, model: nn.Module, opt: torch.optim.Optimizer, batches: list[Batch],
                      seed: int) -> Step:
    params = [p for p in model.parameters() if p.requires_grad]
    inner = torch.optim.Adam(params, lr=INNER_LR, betas=(0.0, 0.999))
    gen = torch.Generator().manual_seed(seed)
    sizes = [b[0].shape[0] for b in batches]

    def step() -> list[float]:
        theta = [p.detach().clone() for p in params]
        losses: list[torch.Tensor] = []
        if variant == "sf":
            order = torch.randperm(len(batches), generator=gen).tolist()
            losses = [torch.zeros(())] * len(batches)
            for i in order:
                inner.zero_grad(set_to_none=True)
                loss = F.l1_loss(model(batches[i][0]), batches[i][1])
                loss.backward()
                inner.step()
                losses[i] = loss.detach()
        else:  # pf: two inner steps on the mean loss of all confounders (Alg. 3)
            for s in range(2):
                inner.zero_grad(set_to_none=True)
                out = model(torch.cat([b[0] for b in batches])).split(sizes)
                each = [F.l1_loss(o, b[1]) for o, b in zip(out, batches)]
                torch.stack(each).mean().backward()
                inner.step()
                losses = [x.detach() for x in each] if s == 0 else losses
        with torch.no_grad():
            for p, t in zip(params, theta):
                p.grad = t - p
                p.copy_(t)
        opt.step()
        return torch.stack(losses).tolist()
    return step


def _authors_sf(model: nn.Module, opt: torch.optim.Optimizer, batches: list[Batch], seed: int) -> Step:
    """The structure of the authors' DIL_sf script: model_task / optimizer_task beside the main model."""
    task = copy.deepcopy(model)
    task_opt = torch.optim.Adam([p for p in task.parameters() if p.requires_grad], lr=INNER_LR, betas=(0.0, 0.999))
    gen = torch.Generator().manual_seed(seed)
    saved: dict[str, Any] = {}

    def step() -> list[float]:
        task.load_state_dict(model.state_dict())
        if saved:
            task_opt.load_state_dict(saved["state"])
        losses = [torch.zeros(())] * len(batches)
        for i in torch.randperm(len(batches), generator=gen).tolist():
            task_opt.zero_grad()
            loss = F.l1_loss(task(batches[i][0]), batches[i][1])
            loss.backward()
            task_opt.step()
            losses[i] = loss.detach()
        saved["state"] = task_opt.state_dict()
        opt.zero_grad()
        for mp, tp in zip(model.parameters(), task.parameters()):  # the authors' point_grad_to
            if mp.grad is None:
                mp.grad = torch.zeros_like(mp)
            mp.grad.add_(mp.detach() - tp.detach())
        opt.step()
        return torch.stack(losses).tolist()
    return step


def _hand_second_order(variant: str, model: nn.Module, opt: torch.optim.Optimizer, batches: list[Batch],
                       query: Batch) -> Step:
    """functional_call + autograd.grad(create_graph=True) with a hand-written Adam virtual step."""
    params = {k: p for k, p in model.named_parameters() if p.requires_grad}
    plist, names = list(params.values()), list(params)
    moments: dict[str, Any] = {"t": 0, "m": {}, "v": {}}
    b1, b2 = BETAS
    sizes = [b[0].shape[0] for b in batches]

    def virtual(g: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        t = moments["t"] + 1
        phi = {}
        for k, p, gk in zip(names, plist, g):
            m = (1 - b1) * gk if k not in moments["m"] else b1 * moments["m"][k] + (1 - b1) * gk
            v = (1 - b2) * gk * gk if k not in moments["v"] else b2 * moments["v"][k] + (1 - b2) * gk * gk
            v_hat, pos = v / (1 - b2**t), v > 0  # sqrt with a finite derivative where v = 0 (dead units)
            phi[k] = p - INNER_LR * (m / (1 - b1**t)) / (torch.where(pos, v_hat, 1.0).sqrt() * pos + EPS)
        return phi

    @torch.no_grad()
    def commit(g: list[torch.Tensor]) -> None:
        for k, gk in zip(names, g):
            if k in moments["m"]:
                moments["m"][k].mul_(b1).add_(gk, alpha=1 - b1)
                moments["v"][k].mul_(b2).addcmul_(gk, gk, value=1 - b2)
            else:
                moments["m"][k], moments["v"][k] = (1 - b1) * gk, (1 - b2) * gk * gk
        moments["t"] += 1

    def step() -> list[float]:
        qx, qy = query
        if variant == "ps":
            out = functional_call(model, params, (torch.cat([b[0] for b in batches]),)).split(sizes)
            losses = [F.l1_loss(o, b[1]) for o, b in zip(out, batches)]
            g = torch.autograd.grad(torch.stack(losses).mean(), plist, create_graph=True)
            outer = F.l1_loss(functional_call(model, virtual(g), (qx,)), qy)
            grads = torch.autograd.grad(outer, plist)
            inner_g, outers = [x.detach() for x in g], [outer.detach()]
        else:  # ss: one virtual step per confounder, mean of the query losses
            n = len(batches)
            grads = [torch.zeros_like(p) for p in plist]
            inner_g = [torch.zeros_like(p) for p in plist]
            losses, outers = [], []
            for x, y in batches:
                loss = F.l1_loss(functional_call(model, params, (x,)), y)
                g = torch.autograd.grad(loss, plist, create_graph=True)
                outer = F.l1_loss(functional_call(model, virtual(g), (qx,)), qy)
                for acc, gi in zip(grads, torch.autograd.grad(outer / n, plist)):
                    acc.add_(gi)
                for acc, gi in zip(inner_g, g):
                    acc.add_(gi.detach(), alpha=1.0 / n)
                losses.append(loss)
                outers.append(outer.detach())
        for p, gr in zip(plist, grads):
            p.grad = gr
        opt.step()
        commit(inner_g)
        return torch.stack([x.detach() for x in losses] + [torch.stack(outers).mean()]).tolist()
    return step


def build(variant: str, kind: str, net: nn.Module, batches: list[Batch], query: Batch,
          seed: int = 0) -> tuple[nn.Module, Step]:
    """A fresh copy of ``net`` with its own Adam outer optimizer and the step of configuration ``kind``."""
    model = copy.deepcopy(net)
    opt = torch.optim.Adam(model.parameters(), lr=OUTER_LR, betas=BETAS)
    second = variant in ("ss", "ps")
    if kind == "dil":
        dil = DILWrapper(model, opt, nn.L1Loss(), variant, inner_lr=INNER_LR,
                         generator=torch.Generator().manual_seed(seed))
        q = query if second else None
        return model, lambda: dil.step(batches, q).confounder_losses
    if kind == "erm" or (kind == "hand" and variant == "erm"):
        return model, _hand_erm(model, opt, batches)
    if kind == "authors" and variant == "sf":
        return model, _authors_sf(model, opt, batches, seed)
    if kind == "hand":
        if second:
            return model, _hand_second_order(variant, model, opt, batches, query)
        return model, _hand_first_order(variant, model, opt, batches, seed)
    raise ValueError(f"no configuration {kind!r} for variant {variant!r}")
