"""Real multi-process DDP (2 ranks, gloo, CPU) against one-process references."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.multiprocessing as mp

from ddp_worker import SCENARIOS, SECOND, STEPS, build, global_data, shard

WORLD = 2


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ddp")
    from ddp_worker import run

    mp.start_processes(run, args=(WORLD, str(tmp / "init"), str(tmp)), nprocs=WORLD, start_method="spawn")
    return [torch.load(tmp / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]


def _assert_close(a, b):
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-9, atol=1e-11, msg=k)


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s[1] == "sync"], ids=str)
def test_sync_equals_one_process_with_global_batch(ranks, scenario):
    variant = scenario[0]
    model, dil = build(variant, generator=torch.Generator().manual_seed(100))  # rank 0's order
    for step in range(STEPS):
        batches, query = global_data(step, WORLD)
        dil.step(batches, query if variant in SECOND else None)
    _assert_close(ranks[0][scenario], model.state_dict())
    _assert_close(ranks[1][scenario], model.state_dict())


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s[1] == "local"], ids=str)
def test_local_equals_outer_step_on_mean_meta_gradient(ranks, scenario):
    variant = scenario[0]
    # One process plays both ranks: each keeps its own inner optimizer; its outer optimizer has
    # lr 0, so after step() p.grad holds that rank's theta - theta_tilde and p is theta again.
    ref, ref_dil = build(variant)
    workers = []
    for _ in range(WORLD):
        m, d = build(variant, generator=torch.Generator().manual_seed(100))
        for group in d.optimizer.param_groups:
            group["lr"] = 0.0
        workers.append((m, d))
    for step in range(STEPS):
        data = global_data(step, WORLD)
        for r, (m, d) in enumerate(workers):
            d.step(shard(data, r)[0])
        with torch.no_grad():
            for name, p in ref.named_parameters():
                p.grad = torch.stack([dict(m.named_parameters())[name].grad for m, _ in workers]).mean(0)
        ref_dil.optimizer.step()
        for m, _ in workers:
            m.load_state_dict(copy.deepcopy(ref.state_dict()))
    _assert_close(ranks[0][scenario], ref.state_dict())
    _assert_close(ranks[1][scenario], ref.state_dict())
