"""Confounder batches: validation and the per-confounder losses every variant needs.

A batch is, by default, an ``(input, target)`` pair of tensors with the same leading (batch)
dimension, e.g. ``(N, C, H, W)`` degraded images and ``(N, C, sH, sW)`` clean images. With a
custom ``forward_fn(model, batch) -> (output, target)`` a batch may be anything that function
can read (a dict, a custom object); then only the structural checks that do not depend on its
type are made.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

__all__ = [
    "ForwardFn",
    "LossFn",
    "check_output_shape",
    "confounder_losses",
    "default_forward",
    "model_signature",
    "validate_batches",
]

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
        raise ValueError(f"{what}: input and target batch sizes differ: {tuple(inputs.shape)} vs {tuple(target.shape)}")
    return inputs, target


def model_signature(module: torch.nn.Module | None) -> tuple[torch.device, torch.dtype] | None:
    """``(device, dtype)`` of the module's first floating-point parameter (None: it has none)."""
    if module is None:
        return None
    for p in module.parameters():
        if p.is_floating_point():
            return p.device, p.dtype
    return None


def _check_placement(
    pairs: list[tuple[str, torch.Tensor, torch.Tensor]], expect: tuple[torch.device, torch.dtype]
) -> None:
    device, dtype = expect
    for what, x, y in pairs:
        for name, t in (("input", x), ("target", y)):
            if t.device != device or t.dtype != dtype:
                raise TypeError(
                    f"{what}: {name} is {t.dtype} on {t.device}, but the model's parameters are {dtype} on "
                    f"{device}; move the batch with .to(device={str(device)!r}, dtype={dtype})"
                )


def validate_batches(
    confounder_batches: Sequence[Any],
    query_batch: Any,
    *,
    needs_query: bool,
    typed: bool,
    module: torch.nn.Module | None = None,
) -> list[Any]:
    """Check the arguments of ``DILWrapper.step`` and return the confounder batches as a list.

    ``typed`` is True for the default ``(input, target)`` batches, whose shapes are checked:
    every confounder's input has the same ``shape[1:]``, every target too, and the query batch
    matches them; with ``module``, every tensor must also have the device and dtype of the
    module's parameters. Raises ``ValueError``/``TypeError`` naming the offending batch.
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
    placed = [(f"confounder_batches[{i}]", x, y) for i, (x, y) in enumerate(pairs)]
    if needs_query:
        qx, qy = _check_pair(query_batch, "query_batch")
        if qx.shape[1:] != in_shape or qy.shape[1:] != tgt_shape:
            raise ValueError(
                f"query_batch has input/target shapes {tuple(qx.shape)}/{tuple(qy.shape)}, "
                f"which do not match the confounders' {tuple(pairs[0][0].shape)}/{tuple(pairs[0][1].shape)}"
            )
        placed.append(("query_batch", qx, qy))
    expect = model_signature(module)
    if expect is not None:
        _check_placement(placed, expect)
    return batches


def check_output_shape(output: Any, target: Any, index: int) -> None:
    """For ``(input, target)`` batches the model's output must have the target's shape exactly:
    a loss would otherwise broadcast the two and train on the wrong objective."""
    if isinstance(output, torch.Tensor) and isinstance(target, torch.Tensor) and output.shape != target.shape:
        raise ValueError(
            f"confounder batch {index}: the model's output has shape {tuple(output.shape)} but the target has "
            f"{tuple(target.shape)}; they must match (no broadcasting). Check the model's scale/channels, or "
            "pass forward_fn= to DILWrapper for batches whose target is not an image of the output's shape"
        )


def confounder_losses(
    model: Callable[..., Any],
    batches: Sequence[Any],
    forward_fn: ForwardFn,
    loss_fn: LossFn,
    *,
    concat: bool,
) -> list[torch.Tensor]:
    """One loss per batch, each ``loss_fn(output_i, target_i)`` (a scalar tensor with its graph).

    With ``concat`` (default ``(input, target)`` batches) each output must have its target's
    shape (:func:`check_output_shape`), and the inputs go through ``model`` in ONE forward pass
    and the output is split back per confounder: the same losses for per-sample networks, fewer
    kernel launches. (BatchNorm then sees the mixed batch, as ERM would.)
    """
    if concat and len(batches) > 1:
        inputs = torch.cat([b[0] for b in batches])
        outputs = model(inputs)
        chunks = outputs.split([b[0].shape[0] for b in batches])
        for i, (out, b) in enumerate(zip(chunks, batches)):
            check_output_shape(out, b[1], i)
        losses = [loss_fn(out, b[1]) for out, b in zip(chunks, batches)]
    else:
        losses = []
        for i, b in enumerate(batches):
            out, target = forward_fn(model, b)
            if concat:
                check_output_shape(out, target, i)
            losses.append(loss_fn(out, target))
    for i, loss in enumerate(losses):
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            raise ValueError(
                f"loss_fn must return a scalar tensor; for confounder {i} it returned "
                f"{type(loss).__name__} {tuple(getattr(loss, 'shape', ()))}"
            )
    return [loss.reshape(()) for loss in losses]
