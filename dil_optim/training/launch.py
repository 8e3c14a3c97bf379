"""What a run under ``torchrun`` needs: the process group, and each rank's shard of the batches.

Every rank draws the *global* batch from identically seeded samplers and generators and keeps
its own contiguous shard of it, so N processes with ``ddp_mode="sync"`` (gradients averaged at
every step, as :class:`~torch.nn.parallel.DistributedDataParallel` does) compute what one
process computes on the whole batch, up to the order of floating-point sums.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import torch

__all__ = ["init_distributed", "ShardedSource"]


def init_distributed(device_name: str) -> tuple[int, int, int | None]:
    """``(rank, world size, local rank)`` from torchrun's environment; initialises the default
    process group (NCCL on CUDA, gloo on CPU) when the world has more than one process. The
    local rank is None on CPU."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, None
    import torch.distributed as dist

    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device_name != "cpu" and torch.cuda.is_available()
    if use_cuda:
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    return dist.get_rank(), world, local_rank if use_cuda else None


def _shard(batch: Any, lo: int, hi: int) -> Any:
    return tuple(t[lo:hi] for t in batch)


class ShardedSource:
    """Wraps a batch source that yields global batches of ``batch_size``; yields rank ``rank``'s
    ``batch_size // world`` samples of each (confounder batches, a callable drawing them, and the
    query batch alike). State is the wrapped source's."""

    def __init__(self, source: Any, batch_size: int, rank: int, world: int) -> None:
        if batch_size % world:
            raise ValueError(
                f"batch size {batch_size} does not split over {world} processes: use a multiple of "
                f"{world} (--batch-size)"
            )
        per = batch_size // world
        self.source, self.lo, self.hi = source, rank * per, (rank + 1) * per

    def next(self) -> tuple[Any, Any]:
        batches, query = self.source.next()
        if callable(batches):
            draw: Callable[[], Any] = batches
            shards: Any = lambda: [_shard(b, self.lo, self.hi) for b in draw()]  # noqa: E731
        else:
            shards = [_shard(b, self.lo, self.hi) for b in batches]
        return shards, (None if query is None else _shard(query, self.lo, self.hi))

    def state_dict(self) -> dict[str, Any]:
        return self.source.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.source.load_state_dict(state)
