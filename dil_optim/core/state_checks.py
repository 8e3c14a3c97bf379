"""Checks that run before :class:`~dil_optim.core.wrapper.DILWrapper` changes anything: the outer
optimizer against the model, and a saved state against the wrapper it is loaded into."""

from __future__ import annotations

import logging
import math
from typing import Any

import torch
from torch import nn

__all__ = ["check_optimizer_covers", "validate_state", "validate_optimizer_state"]

logger = logging.getLogger("dil_optim.core.wrapper")


def check_optimizer_covers(module: nn.Module, optimizer: torch.optim.Optimizer) -> None:
    """The outer optimizer must hold the model's trainable parameters, with finite learning rates.

    Raises ``ValueError`` when it holds none of them (it would train nothing) or a param group's
    ``lr`` is not a finite number >= 0; logs a warning when it holds only some of them.
    """
    trainable = [p for p in module.parameters() if p.requires_grad]
    if not trainable:
        raise ValueError("the model has no trainable parameters (requires_grad=True): there is nothing to train")
    held = {id(p) for group in optimizer.param_groups for p in group["params"]}
    covered = sum(id(p) in held for p in trainable)
    if covered == 0:
        raise ValueError(
            f"the optimizer holds none of the model's {len(trainable)} trainable parameters (was it built over "
            "another model's parameters?); build it with optimizer_cls(model.parameters(), ...)"
        )
    if covered < len(trainable):
        logger.warning(
            "the optimizer holds %d of the model's %d trainable parameters; the others are not updated",
            covered,
            len(trainable),
        )
    for i, group in enumerate(optimizer.param_groups):
        lr = group.get("lr")
        if isinstance(lr, (int, float)) and not (math.isfinite(lr) and lr >= 0):
            raise ValueError(f"optimizer param group {i} has lr = {lr}; a learning rate must be a finite number >= 0")


def validate_state(state: Any, w: Any, version: int) -> None:
    """Check a :meth:`DILWrapper.state_dict` against wrapper ``w`` before anything is loaded."""
    if not isinstance(state, dict) or state.get("version") != version:
        found = state.get("version") if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"not a DILWrapper state (version {found!r}, expected {version})")
    missing = sorted({"variant", "step_count", "generator", "inner_optimizer", "virtual_step"} - set(state))
    if missing:
        raise ValueError(f"DILWrapper state lacks {', '.join(missing)}")
    if state["variant"] != w.variant:
        raise ValueError(f"state is for variant {state['variant']!r}, this wrapper runs {w.variant!r}")
    count = state["step_count"]
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"DILWrapper state: step_count must be a non-negative int, got {count!r}")
    gen = state["generator"]
    expected = w.generator.get_state().shape
    if not isinstance(gen, torch.Tensor) or gen.dtype != torch.uint8 or gen.shape != expected:
        raise ValueError(
            "DILWrapper state: generator must be the uint8 tensor of torch.Generator.get_state() "
            f"with shape {tuple(expected)}, got "
            f"{getattr(gen, 'dtype', type(gen).__name__)} {tuple(getattr(gen, 'shape', ()))}"
        )
    if (state["inner_optimizer"] is None) != (w.inner_optimizer is None):
        raise ValueError("state and wrapper disagree on having an inner optimizer")
    if w.inner_optimizer is not None:
        validate_optimizer_state(w.inner_optimizer, state["inner_optimizer"], "inner_optimizer")
    _validate_virtual_state(state["virtual_step"], w)


def _validate_virtual_state(vs: Any, w: Any) -> None:
    if not isinstance(vs, dict) or not {"kind", "t", "exp_avg", "exp_avg_sq"} <= set(vs):
        raise ValueError("DILWrapper state: virtual_step must be a dict with kind, t, exp_avg, exp_avg_sq")
    if vs["kind"] != w.vstep.kind:
        raise ValueError(f"checkpoint's virtual step is {vs['kind']!r}, this wrapper uses {w.vstep.kind!r}")
    if isinstance(vs["t"], bool) or not isinstance(vs["t"], int) or vs["t"] < 0:
        raise ValueError(f"DILWrapper state: virtual_step.t must be a non-negative int, got {vs['t']!r}")
    named = w._named_trainable()
    for key in ("exp_avg", "exp_avg_sq"):
        moments = vs[key]
        if not isinstance(moments, dict):
            raise ValueError(f"DILWrapper state: virtual_step.{key} must be a dict, got {type(moments).__name__}")
        if moments and set(moments) != set(named):
            extra, lacking = sorted(set(moments) - set(named)), sorted(set(named) - set(moments))
            raise ValueError(
                f"DILWrapper state: virtual_step.{key} is for other parameters "
                f"(unknown: {extra[:3]}, missing: {lacking[:3]})"
            )
        for name, m in moments.items():
            if not isinstance(m, torch.Tensor) or m.shape != named[name].shape:
                raise ValueError(
                    f"DILWrapper state: virtual_step.{key}[{name!r}] must be a tensor of shape "
                    f"{tuple(named[name].shape)}, got {tuple(getattr(m, 'shape', ()))}"
                )


def validate_optimizer_state(opt: torch.optim.Optimizer, sd: Any, what: str) -> None:
    """Check an optimizer ``state_dict`` against ``opt`` (groups, sizes, per-parameter tensor shapes)
    so that ``opt.load_state_dict(sd)`` cannot fail half-way or load moments of the wrong shape."""
    if not (isinstance(sd, dict) and isinstance(sd.get("state"), dict) and isinstance(sd.get("param_groups"), list)):
        raise ValueError(f"DILWrapper state: {what} must be an optimizer state_dict with 'state' and 'param_groups'")
    groups = opt.param_groups
    if len(sd["param_groups"]) != len(groups):
        raise ValueError(
            f"DILWrapper state: {what} has {len(sd['param_groups'])} param groups, this one has {len(groups)}"
        )
    index: dict[Any, torch.Tensor] = {}
    for i, (saved, group) in enumerate(zip(sd["param_groups"], groups)):
        ids = saved.get("params") if isinstance(saved, dict) else None
        if not isinstance(ids, list) or len(ids) != len(group["params"]):
            raise ValueError(
                f"DILWrapper state: {what} param group {i} holds "
                f"{len(ids) if isinstance(ids, list) else '?'} parameters, this one "
                f"{len(group['params'])} (a state for another model?)"
            )
        index.update(zip(ids, group["params"]))
    for pid, st in sd["state"].items():
        if pid not in index or not isinstance(st, dict):
            raise ValueError(f"DILWrapper state: {what} has state for an unknown parameter {pid!r}")
        p = index[pid]
        for key, v in st.items():
            if isinstance(v, torch.Tensor) and v.dim() > 0 and v.shape != p.shape:
                raise ValueError(
                    f"DILWrapper state: {what} state[{pid!r}][{key!r}] has shape {tuple(v.shape)}, "
                    f"its parameter {tuple(p.shape)} (a state for another model?)"
                )
