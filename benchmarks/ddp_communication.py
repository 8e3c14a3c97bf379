"""Communication of DIL under DDP: ``sync`` against ``local`` first-order modes.

Spawns ``--world`` gloo ranks on this machine (CPU) and, for each configuration, counts the
bytes every rank all-reduces per outer step (DDP's buckets through a comm hook, the wrapper's
own all-reduces alike, through a counting wrapper around ``torch.distributed.all_reduce``;
DDP's buckets are routed through it by its stock ``allreduce_hook``) and times the outer step. Prints a table and, with ``--json``, writes it.

    python benchmarks/ddp_communication.py --world 2 --steps 10
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook
from torch.nn.parallel import DistributedDataParallel

from dil_optim import DILWrapper
from dil_optim.models import build_model

CONFIGS = [("erm", "sync"), ("sf", "sync"), ("sf", "local"), ("pf", "sync"), ("pf", "local"), ("ps", "sync")]


class _Counter:
    def __init__(self) -> None:
        self.bytes = 0
        self.calls = 0

    def add(self, t: torch.Tensor) -> None:
        self.bytes += t.numel() * t.element_size()
        self.calls += 1


def _worker(rank: int, world: int, init: str, args: argparse.Namespace, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init}", rank=rank, world_size=world)
    counter = _Counter()
    plain_all_reduce = dist.all_reduce

    def counting_all_reduce(tensor, *a, **kw):  # the wrapper's own collectives
        counter.add(tensor)
        return plain_all_reduce(tensor, *a, **kw)

    dist.all_reduce = counting_all_reduce

    rows = []
    for variant, mode in CONFIGS:
        torch.manual_seed(0)
        model = DistributedDataParallel(build_model("dncnn", width=args.width))
        model.register_comm_hook(None, allreduce_hook)  # Python-side all_reduce, hence counted
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)
        dil = DILWrapper(model, opt, nn.L1Loss(), variant, inner_lr=1e-4, ddp_mode=mode)
        g = torch.Generator().manual_seed(rank)
        mk = lambda: (torch.rand(args.batch, 3, args.size, args.size, generator=g),  # noqa: E731
                      torch.rand(args.batch, 3, args.size, args.size, generator=g))
        batches, query = [mk() for _ in range(4)], mk()
        dil.step(batches, query if variant == "ps" else None)  # warm-up
        counter.bytes = counter.calls = 0
        times = []
        for _ in range(args.steps):
            dist.barrier()
            t0 = time.perf_counter()
            dil.step(batches, query if variant == "ps" else None)
            times.append(time.perf_counter() - t0)
        # The barriers are not counted: they go through dist.barrier, not all_reduce.
        rows.append(dict(variant=variant, mode=mode, mb_per_step=counter.bytes / args.steps / 2**20,
                         calls_per_step=counter.calls / args.steps, ms_per_step=1e3 * statistics.median(times),
                         params=sum(p.numel() for p in model.parameters())))
    if rank == 0:
        with open(out, "w") as f:
            json.dump(rows, f)
    dist.destroy_process_group()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--world", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch", type=int, default=8, help="per-rank batch per confounder")
    ap.add_argument("--size", type=int, default=48)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "rows.json")
        mp.start_processes(_worker, args=(args.world, os.path.join(tmp, "init"), args, out),
                           nprocs=args.world, start_method="spawn")
        with open(out) as f:
            rows = json.load(f)
    print(f"DDP communication, {args.world} gloo ranks on CPU, DnCNN width {args.width} "
          f"({rows[0]['params']:,} parameters), 4 confounders x batch {args.batch} x {args.size}^2 per rank")
    print(f"{'variant':8} {'mode':6} {'all-reduces/step':>17} {'MB/step':>9} {'ms/step':>9}")
    for r in rows:
        print(f"{r['variant']:8} {r['mode']:6} {r['calls_per_step']:17.1f} {r['mb_per_step']:9.3f} {r['ms_per_step']:9.1f}")
    by = {(r["variant"], r["mode"]): r for r in rows}
    for v in ("sf", "pf"):
        s, loc = by[(v, "sync")], by[(v, "local")]
        print(f"DIL_{v}: local sends {s['mb_per_step'] / loc['mb_per_step']:.1f}x fewer bytes than sync "
              f"({s['calls_per_step']:.0f} vs {loc['calls_per_step']:.0f} all-reduces) "
              f"and takes {loc['ms_per_step'] / s['ms_per_step']:.2f}x its time per step")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
