"""Worker for test_distributed.py: runs each scenario on one rank of a gloo group."""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from dil_optim import DILWrapper
from toys import small_convnet

SCENARIOS = [
    # (variant, ddp_mode, wrap the model in DistributedDataParallel)
    ("erm", "sync", True),
    ("erm", "sync", False),
    ("sf", "sync", True),
    ("sf", "sync", False),
    ("pf", "sync", True),
    ("sf", "local", True),
    ("pf", "local", False),
    ("ps", "sync", True),
    ("ss", "sync", False),
    # second_order="hvp" (4th entry; default "graph"): checked against the one-process "graph" run
    ("ps", "sync", True, "hvp"),
    ("ss", "sync", False, "hvp"),
]
STEPS = 2
SECOND = {"ps", "ss"}


def global_data(step: int, world: int = 2, per_rank: int = 2, n_conf: int = 3):
    """The global batch of outer step ``step``: n_conf confounder pairs and a query pair."""
    g = torch.Generator().manual_seed(1000 + step)
    n = world * per_rank
    mk = lambda: (torch.rand(n, 3, 6, 6, generator=g, dtype=torch.float64),  # noqa: E731
                  torch.rand(n, 3, 6, 6, generator=g, dtype=torch.float64))
    return [mk() for _ in range(n_conf)], mk()


def shard(data, rank: int, per_rank: int = 2):
    sl = slice(rank * per_rank, (rank + 1) * per_rank)
    batches, query = data
    return [(x[sl], y[sl]) for x, y in batches], (query[0][sl], query[1][sl])


def build(variant: str, ddp_mode: str = "sync", wrap: bool = False, generator=None, second_order: str = "graph"):
    torch.manual_seed(0)
    model = small_convnet().double()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    net = DistributedDataParallel(model) if wrap else model
    dil = DILWrapper(net, opt, nn.L1Loss(), variant, inner_lr=1e-2, ddp_mode=ddp_mode, generator=generator,
                     **({"second_order": second_order} if second_order != "graph" else {}))
    return model, dil


def run(rank: int, world: int, init_file: str, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        results = {}
        for scenario in SCENARIOS:
            variant, mode, wrap, *second_order = scenario
            torch.manual_seed(100 + rank)  # ranks seed differently; DILWrapper must agree on the order
            model, dil = build(variant, mode, wrap, generator=torch.Generator().manual_seed(100 + rank),
                               second_order=second_order[0] if second_order else "graph")
            for step in range(STEPS):
                batches, query = shard(global_data(step, world), rank)
                dil.step(batches, query if variant in SECOND else None)
            results[scenario] = {k: v.clone() for k, v in model.state_dict().items()}
        torch.save(results, f"{out_dir}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()
