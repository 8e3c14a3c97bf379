"""The fast path for ERM and first-order steps: opt-in speed options, one switch each.

Each option keeps the wrapper's public API and its maths; what changes is how the device
computes it. ``FAST_OPTIONS``:

- ``"bf16"``: forward passes under bf16 autocast, fp32 master weights and optimizer state
  (``DILWrapper(autocast_dtype=torch.bfloat16)``). Changes the numbers at bf16 round-off.
- ``"channels_last"``: model weights (and so convolution activations) in channels-last memory
  format, which cuDNN's tensor-core convolutions prefer. Same numbers up to summation order.
- ``"tf32"``: TF32 tensor cores for what stays fp32 (matmuls and convolutions), CUDA only.
- ``"fused"``: Adam with ``fused=True`` on CUDA (``foreach=True`` elsewhere): one kernel for
  the update of all parameters instead of one per tensor.
- ``"compile"``: ``model.compile()`` (TorchInductor) for ERM, DIL_sf and DIL_pf; the
  second-order variants are left eager (torch.compile does not support double backward:
  PyTorch issues 91469, 183603). Parameter names are unchanged, so checkpoints still load.

Defaults are off everywhere: which options pay off is measured by ``benchmarks/gpu_throughput.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

__all__ = ["FAST_OPTIONS", "check_fast_options", "prepare_model", "adam", "autocast_dtype"]

FAST_OPTIONS = ("bf16", "channels_last", "tf32", "fused", "compile")
_FIRST_ORDER = ("erm", "sf", "pf")


def check_fast_options(options: Iterable[str]) -> tuple[str, ...]:
    """The options as a tuple in canonical order; ValueError naming an unknown one."""
    opts = tuple(options)
    bad = sorted(set(opts) - set(FAST_OPTIONS))
    if bad:
        raise ValueError(f"unknown fast-path option(s) {bad}; choose from {', '.join(FAST_OPTIONS)}")
    return tuple(o for o in FAST_OPTIONS if o in opts)


def prepare_model(model: nn.Module, variant: str, device: torch.device, options: Iterable[str]) -> nn.Module:
    """Apply the model-side options in place (memory format, TF32, compilation); returns ``model``."""
    opts = check_fast_options(options)
    if "channels_last" in opts:
        model.to(memory_format=torch.channels_last)
    if "tf32" in opts and device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if "compile" in opts and variant in _FIRST_ORDER:
        model.compile()
    return model


def adam(
    params: Any, lr: float, device: torch.device, options: Iterable[str], betas: tuple[float, float] = (0.9, 0.999)
) -> torch.optim.Adam:
    """The outer Adam, fused (CUDA) or multi-tensor (elsewhere) with the ``"fused"`` option."""
    if "fused" not in check_fast_options(options):
        return torch.optim.Adam(params, lr=lr, betas=betas)
    if device.type == "cuda":
        return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)
    return torch.optim.Adam(params, lr=lr, betas=betas, foreach=True)


def autocast_dtype(options: Iterable[str]) -> torch.dtype | None:
    """``torch.bfloat16`` with the ``"bf16"`` option, else None (fp32)."""
    return torch.bfloat16 if "bf16" in check_fast_options(options) else None
