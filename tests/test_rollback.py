"""Rollback: everything a step may change comes back, including optimizer state created mid-step."""

from __future__ import annotations

import torch

from dil_optim.core.rollback import Rollback


def test_restores_params_buffers_optimizer_and_generator():
    lin = torch.nn.Linear(3, 2)
    buf = torch.zeros(4)
    opt = torch.optim.Adam(lin.parameters(), lr=0.1)
    gen = torch.Generator().manual_seed(0)
    rb = Rollback()
    params = list(lin.parameters())
    before = [p.detach().clone() for p in params]
    rb.take(params, [buf], opt, gen, None, theta=True)
    # a "step" that changes everything, creating the optimizer's state on the way
    lin(torch.ones(1, 3)).sum().backward()
    opt.step()
    buf.add_(1)
    torch.rand(3, generator=gen)
    rb.restore()
    assert all(torch.equal(p, b) for p, b in zip(params, before))
    assert torch.equal(buf, torch.zeros(4)) and len(opt.state) == 0
    assert all(p.grad is None for p in params)
    assert torch.equal(torch.rand(3, generator=gen), torch.rand(3, generator=torch.Generator().manual_seed(0)))


def test_restores_existing_optimizer_state_values_and_reuses_storage():
    lin = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(lin.parameters(), lr=0.1)
    lin(torch.ones(1, 3)).sum().backward()
    opt.step()
    saved = {p: {k: v.clone() for k, v in s.items()} for p, s in opt.state.items()}
    rb = Rollback()
    for _ in range(2):
        rb.take(list(lin.parameters()), [], opt, torch.Generator(), None, theta=False)
        kept = [id(t) for t in rb._keep["inner"]]
        lin(torch.ones(1, 3)).sum().backward()
        opt.step()
        rb.restore()
        for p, s in opt.state.items():
            assert all(torch.equal(s[k], saved[p][k]) for k in s)
    assert [id(t) for t in rb._keep["inner"]] == kept  # no new allocation on the second step
