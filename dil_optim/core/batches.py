"""Confounder batches: validation and the per-confounder losses every variant needs.

A batch is, by default, an ``(input, target)`` pair of tensors with the same leading (batch)
dimension, e.g. ``(N, C, H, W)`` degraded images and ``(N, C, sH, sW)`` clean images. With a
custom ``forward_fn(model, batch) -> (output, target)`` a batch may be anything that function
can read (a dict, a custom object); then only the structural checks that do not depend on its
type are made.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Callable

import torch

__all__ = ["ForwardFn", "LossFn", "default_forward", "validate_batches", "confounder_losses"]

ForwardFn = Callable[[Callable[..., Any], Any], "tuple[Any, Any]"]
LossFn = Callable[[Any, Any], torch.Tensor]


def default_forward(model: Callable[..., Any], batch: Any) -> tuple[Any, Any]:
    """``(input, target) -> (model(input), target)``."""
    inputs, target = batch
    return model(inputs), target


def _check_pair(batch: Any, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise TypeError(
            f"{what} must be an (input, target) pair of tensors, got {type(batch).__name__}; "
            "pass forward_fn= to DILWrapper to use another batch type"
        )
    inputs, target = batch
    for name, t in (("input", inputs), ("target", target)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{what}: {name} must be a torch.Tensor, got {type(t).__name__}")
        if not t.is_floating_point():
            raise TypeError(f"{what}: {name} must be a floating-point tensor, got dtype {t.dtype}")
        if t.dim() < 1 or t.shape[0] == 0:
            raise ValueError(f"{what}: {name} must have a non-empty batch dimension, got shape {tuple(t.shape)}")
    if inputs.shape[0] != target.shape[0]:
        raise ValueError(
            f"{what}: input and target batch sizes differ: {tuple(inputs.shape)} vs {tuple(target.shape)}"
        )
    return inputs, target


def validate_batches(
    confounder_batches: Sequence[Any], query_batch: Any, *, needs_query: bool, typed: bool
) -> list[Any]:
    """Check the arguments of ``DILWrapper.step`` and return the confounder batches as a list.

    ``typed`` is True for the default ``(input, target)`` batches, whose shapes are checked:
    every confounder's input has the same ``shape[1:]``, every target too, and the query batch
    matches them. Raises ``ValueError``/``TypeError`` naming the offending batch.
    """
    if isinstance(confounder_batches, (torch.Tensor, dict)) or not isinstance(confounder_batches, Sequence):
        raise TypeError(
            "confounder_batches must be a sequence of batches, one per confounder, "
            f"got {type(confounder_batches).__name__}"
        )
    batches = list(confounder_batches)
    if not batches:
        raise ValueError("confounder_batches is empty: DIL needs at least one confounder batch")
    if needs_query and query_batch is None:
        raise ValueError(
            "this second-order variant needs query_batch=(I_d, I_c), the batch the virtually "
            "updated network is evaluated on (Eq. 4/5 of the paper)"
        )
    if not typed:
        return batches
    pairs = [_check_pair(b, f"confounder_batches[{i}]") for i, b in enumerate(batches)]
    in_shape, tgt_shape = pairs[0][0].shape[1:], pairs[0][1].shape[1:]
    for i, (x, y) in enumerate(pairs[1:], start=1):
        if x.shape[1:] != in_shape or y.shape[1:] != tgt_shape:
            raise ValueError(
                f"confounder_batches[{i}] has input/target shapes {tuple(x.shape)}/{tuple(y.shape)}, "
                f"but confounder_batches[0] has {tuple(pairs[0][0].shape)}/{tuple(pairs[0][1].shape)}; "
                "all confounders must share the per-sample shapes"
            )
    if needs_query:
        qx, qy = _check_pair(query_batch, "query_batch")
        if qx.shape[1:] != in_shape or qy.shape[1:] != tgt_shape:
            raise ValueError(
                f"query_batch has input/target shapes {tuple(qx.shape)}/{tuple(qy.shape)}, "
                f"which do not match the confounders' {tuple(pairs[0][0].shape)}/{tuple(pairs[0][1].shape)}"
            )
    return batches


def confounder_losses(
    model: Callable[..., Any],
    batches: Sequence[Any],
    forward_fn: ForwardFn,
    loss_fn: LossFn,
    *,
    concat: bool,
) -> list[torch.Tensor]:
    """One loss per batch, each ``loss_fn(output_i, target_i)`` (a scalar tensor with its graph).

    With ``concat`` (default ``(input, target)`` batches) the inputs go through ``model`` in ONE
    forward pass and the output is split back per confounder: the same losses for per-sample
    networks, fewer kernel launches. (BatchNorm then sees the mixed batch, as ERM would.)
    """
    if concat and len(batches) > 1:
        inputs = torch.cat([b[0] for b in batches])
        outputs = model(inputs)
        chunks = outputs.split([b[0].shape[0] for b in batches])
        losses = [loss_fn(out, b[1]) for out, b in zip(chunks, batches)]
    else:
        losses = []
        for b in batches:
            out, target = forward_fn(model, b)
            losses.append(loss_fn(out, target))
    for i, loss in enumerate(losses):
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            raise ValueError(
                f"loss_fn must return a scalar tensor; for confounder {i} it returned "
                f"{type(loss).__name__} {tuple(getattr(loss, 'shape', ()))}"
            )
    return [loss.reshape(()) for loss in losses]
