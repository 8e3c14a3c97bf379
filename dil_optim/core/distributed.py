"""Collectives the wrapper needs under ``torch.distributed`` (one process group, any backend).

Everything is a no-op in a single process, so the wrapper calls these unconditionally.
"""

from __future__ import annotations

import warnings

import torch
import torch.distributed as dist

__all__ = ["Comm"]


class Comm:
    """Averaging across the ranks of ``group`` (the default group when None).

    ``active`` is False outside an initialised process group or with a single rank.
    """

    def __init__(self, group: dist.ProcessGroup | None = None) -> None:
        self.group = group
        self.active = dist.is_available() and dist.is_initialized() and dist.get_world_size(group) > 1
        self.world_size = dist.get_world_size(group) if self.active else 1

    def mean_(self, tensors: list[torch.Tensor]) -> None:
        """Average ``tensors`` across ranks in place, in one flattened all-reduce."""
        if not self.active or not tensors:
            return
        flat = torch.cat([t.reshape(-1) for t in tensors])
        dist.all_reduce(flat, group=self.group)
        flat.div_(self.world_size)
        for t, part in zip(tensors, flat.split([t.numel() for t in tensors])):
            t.copy_(part.view_as(t))

    def mean(self, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        """Differentiable average across ranks (the backward pass all-reduces too).

        Every rank must run the backward pass through the result, as in DDP.
        """
        if not self.active or not tensors:
            return tensors
        with warnings.catch_warnings():  # deprecated in favour of a private, non-differentiable API
            warnings.simplefilter("ignore", FutureWarning)
            from torch.distributed.nn.functional import all_reduce

            flat = all_reduce(torch.cat([t.reshape(-1) for t in tensors]), group=self.group) / self.world_size
        return [part.view_as(t) for t, part in zip(tensors, flat.split([t.numel() for t in tensors]))]

    def broadcast_generator(self, generator: torch.Generator) -> None:
        """Give every rank rank 0's generator state, so all draw the same confounder order."""
        if not self.active:
            return
        state = [generator.get_state()]
        dist.broadcast_object_list(state, src=_global_rank0(self.group), group=self.group)
        generator.set_state(state[0])


def _global_rank0(group: dist.ProcessGroup | None) -> int:
    return 0 if group is None else dist.get_global_rank(group, 0)
