"""DILWrapper: distortion-invariant representation learning around any model and optimizer."""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .backends import make_functional
from .batches import ForwardFn, LossFn, confounder_losses, default_forward, validate_batches
from .distributed import Comm
from .draws import ConfounderBatches, Draws
from .first_order import inner_loop, reptile_gradients
from .rollback import Rollback
from .second_order import parallel_second_order, serial_second_order
from .second_order_hvp import batch_coupled, parallel_second_order_hvp, serial_second_order_hvp
from .second_order_vmap import serial_second_order_vmap
from .state_checks import check_optimizer_covers, validate_state
from .stats import StepStats, finite, non_finite_message, total_norm
from .virtual_step import VirtualStep

__all__ = ["DILWrapper", "DILOptimizer", "StepStats", "VARIANTS", "SECOND_ORDER_MODES"]

logger = logging.getLogger(__name__)

VARIANTS = ("erm", "sf", "pf", "ss", "ps")
SECOND_ORDER_MODES = ("graph", "hvp", "vmap")
_STATE_VERSION = 1


def _adam_inner(lr: float) -> Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]:
    def build(params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
        return torch.optim.Adam(params, lr=lr, betas=(0.0, 0.999))

    return build


def _normalise_variant(variant: str) -> str:
    v = str(variant).lower()
    v = v[4:] if v.startswith("dil_") else v
    if v not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; expected one of {', '.join(VARIANTS)} (or DIL_sf, ...)")
    return v


class DILWrapper:
    """Turns ``zero_grad(); loss.backward(); optimizer.step()`` into one DIL update.

    Args:
        model: any ``nn.Module``; its trainable parameters (``requires_grad``) form theta.
        optimizer: the user's outer optimizer over the model's parameters (kept as it is: its
            param groups, LR schedulers and ``state_dict`` work as usual).
        loss_fn: ``loss_fn(output, target) -> scalar tensor``; default ``nn.L1Loss()`` (the paper's).
        variant: ``"erm" | "sf" | "pf" | "ss" | "ps"`` (``"DIL_sf"`` etc. also accepted).
        inner_lr: alpha, the learning rate of the inner / virtual update.
        inner_steps: DIL_sf: passes over the confounders per outer step (default 1); DIL_pf:
            inner steps on all confounders (default 2, Alg. 3); must stay None for the others.
        inner_optimizer: ``params -> torch.optim.Optimizer`` for the first-order inner steps;
            default Adam(lr=inner_lr, betas=(0.0, 0.999)). Its state persists across outer steps.
        backend: ``"torch_func"`` (default) or ``"higher"`` for the second-order variants.
        virtual_step: ``"adam"`` (default) or ``"sgd"`` (Eq. 3/5) for the second-order variants.
        virtual_betas: Adam betas of the virtual step (the paper: the same as ERM's, (0.9, 0.999)).
        second_order: how DIL_ss/DIL_ps get their outer gradient, all with the same numbers (to
            round-off): ``"graph"`` (default: backward through the kept double-backward graph),
            ``"hvp"`` (query gradient plus one Hessian-vector product per confounder batch, one
            batch's graph at a time: less memory, every inner batch runs twice), ``"vmap"``
            (DIL_ss only, torch_func backend, single process: the n branches vectorised with
            ``torch.func.vmap``). See docs/variants.md, "Second-order modes".
        shuffle: visit the confounders of DIL_sf in a seeded random order each outer step.
        generator: the ``torch.Generator`` for that order (its state is in :meth:`state_dict`).
        forward_fn: ``forward_fn(model, batch) -> (output, target)`` for batches that are not
            ``(input, target)`` tensor pairs; ``model`` is then a callable standing in for the module.
        check_finite: raise ``FloatingPointError`` and roll everything back when a loss or the
            meta-gradient is not finite (reads the step's stats: one device sync per step).
            Any exception inside ``step()`` rolls back parameters, buffers, the inner
            optimizer's state and the order generator, whatever this flag says.
        ddp_mode: under ``torch.distributed``, for DIL_sf/DIL_pf: ``"sync"`` averages the inner
            gradients across ranks at every inner step (one process with the global batch;
            DDP does it when ``model`` is a ``DistributedDataParallel``); ``"local"`` lets each
            rank take its inner steps alone and averages only theta - theta_tilde, once per
            outer step. Second-order variants always average the inner gradient inside the
            graph and the outer gradient after it.
        process_group: the group to average over (default: the world).
        autocast_dtype: run the forward passes under ``torch.autocast`` with this dtype
            (``torch.bfloat16`` on CPU or CUDA, ``torch.float16`` on CUDA).
        grad_scaler: a ``torch.amp.GradScaler`` for float16. ERM and DIL_ss/ps scale the
            (outer and inner) losses and let the scaler step the outer optimizer, skipping
            steps whose gradients overflowed; DIL_sf/pf scale the inner steps (the scaler steps
            the inner optimizer) while the meta-gradient, a weight difference, needs none.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        loss_fn: LossFn | None = None,
        variant: str = "sf",
        *,
        inner_lr: float = 1e-4,
        inner_steps: int | None = None,
        inner_optimizer: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer] | None = None,
        backend: str = "torch_func",
        virtual_step: str = "adam",
        virtual_betas: tuple[float, float] = (0.9, 0.999),
        second_order: str = "graph",
        shuffle: bool = True,
        generator: torch.Generator | None = None,
        forward_fn: ForwardFn | None = None,
        check_finite: bool = True,
        ddp_mode: str = "sync",
        process_group: Any = None,
        autocast_dtype: torch.dtype | None = None,
        grad_scaler: torch.amp.GradScaler | None = None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        self.variant = _normalise_variant(variant)
        self.model = model
        self._ddp = isinstance(model, DistributedDataParallel)
        self.module: nn.Module = model.module if isinstance(model, DistributedDataParallel) else model
        self.optimizer = optimizer
        self.loss_fn: LossFn = loss_fn if loss_fn is not None else nn.L1Loss()
        self.forward_fn: ForwardFn = forward_fn if forward_fn is not None else default_forward
        self._typed = forward_fn is None
        self.inner_lr = float(inner_lr)
        if not (math.isfinite(self.inner_lr) and self.inner_lr > 0):
            raise ValueError(f"inner_lr must be a finite number > 0, got {inner_lr}")
        check_optimizer_covers(self.module, optimizer)
        self.inner_steps = self._check_inner_steps(inner_steps)
        self.shuffle = shuffle
        self.check_finite = check_finite
        if generator is None:
            generator = torch.Generator().manual_seed(torch.initial_seed() % (2**63))
        self.generator = generator
        self.step_count = 0
        self._warned_query = False
        self._rollback = Rollback()
        if ddp_mode not in ("sync", "local"):
            raise ValueError(f"ddp_mode must be 'sync' or 'local', got {ddp_mode!r}")
        self.ddp_mode = ddp_mode
        self.comm = Comm(process_group)
        self.comm.broadcast_generator(self.generator)
        if autocast_dtype is not None and autocast_dtype not in (torch.bfloat16, torch.float16):
            raise ValueError(f"autocast_dtype must be torch.bfloat16 or torch.float16, got {autocast_dtype}")
        self.autocast_dtype = autocast_dtype
        self.scaler = grad_scaler if grad_scaler is not None and grad_scaler.is_enabled() else None

        if backend not in ("torch_func", "higher"):  # checked for every variant, before anything is built
            raise ValueError(f"unknown backend {backend!r}; expected 'torch_func' or 'higher'")
        self.inner_optimizer: torch.optim.Optimizer | None = None
        if self.variant in ("sf", "pf"):
            build = inner_optimizer if inner_optimizer is not None else _adam_inner(self.inner_lr)
            self.inner_optimizer = build(self._trainable_params())
        elif inner_optimizer is not None:
            raise ValueError(
                f"inner_optimizer applies to the first-order variants only; variant {self.variant!r} "
                "uses virtual_step='adam' | 'sgd'"
            )
        self.backend = backend
        self.second_order = self._check_second_order(second_order, backend)
        self._told_coupled = False
        self.vstep = VirtualStep(kind=virtual_step, lr=self.inner_lr, betas=virtual_betas)
        self._fm = make_functional(self.module, backend) if self.variant in ("ss", "ps") else None

    # ------------------------------------------------------------------ helpers
    def _check_inner_steps(self, inner_steps: int | None) -> int:
        defaults = {"sf": 1, "pf": 2}
        if inner_steps is None:
            return defaults.get(self.variant, 1)
        if self.variant not in defaults:
            raise ValueError(f"inner_steps applies to DIL_sf and DIL_pf only, not to variant {self.variant!r}")
        if int(inner_steps) != inner_steps or inner_steps < 1:
            raise ValueError(f"inner_steps must be a positive integer, got {inner_steps!r}")
        return int(inner_steps)

    def _check_second_order(self, mode: str, backend: str) -> str:
        if mode not in SECOND_ORDER_MODES:
            raise ValueError(
                f"unknown second_order {mode!r}; expected one of {', '.join(map(repr, SECOND_ORDER_MODES))}"
            )
        if mode != "graph" and self.variant not in ("ss", "ps"):
            raise ValueError(
                f"second_order={mode!r} applies to DIL_ss and DIL_ps only, not to variant {self.variant!r}"
            )
        if mode == "vmap":
            if self.variant != "ss":
                raise ValueError(
                    "second_order='vmap' vectorises DIL_ss's n independent branches; DIL_ps has one "
                    "(use 'graph' or 'hvp')"
                )
            if backend != "torch_func":
                raise ValueError(f"second_order='vmap' needs backend='torch_func' (torch.func.vmap), not {backend!r}")
            if self.comm.active:
                raise ValueError(
                    "second_order='vmap' cannot run under torch.distributed: the inner gradient's "
                    "all-reduce cannot run inside vmap (use 'graph' or 'hvp')"
                )
        return mode

    def _named_trainable(self) -> dict[str, nn.Parameter]:
        return {k: p for k, p in self.module.named_parameters() if p.requires_grad}

    def _trainable_params(self) -> list[nn.Parameter]:
        return list(self._named_trainable().values())

    def _losses(self, model: Callable[..., Any], batches: Sequence[Any]) -> list[torch.Tensor]:
        if self.autocast_dtype is None:
            return confounder_losses(model, batches, self.forward_fn, self.loss_fn, concat=self._typed)
        device_type = next(self.module.parameters()).device.type
        with torch.autocast(device_type=device_type, dtype=self.autocast_dtype):
            losses = confounder_losses(model, batches, self.forward_fn, self.loss_fn, concat=self._typed)
        return [x.float() for x in losses]

    # ------------------------------------------------------------------ the step
    def step(self, confounder_batches: ConfounderBatches, query_batch: Any = None) -> StepStats:
        """One outer update of theta; replaces ``zero_grad(); backward(); optimizer.step()``.

        Args:
            confounder_batches: one batch per confounder d_i, by default ``(input, target)``
                pairs, e.g. ``(N, C, H, W)`` distorted and clean images in [0, 1]; every inner
                step of DIL_pf (every pass of DIL_sf) reuses them. Or a zero-argument callable
                returning such a sequence: called once here and once more per further inner step
                of DIL_pf (pass of DIL_sf), so each gets fresh batches (Alg. 3); the other
                variants call it once. A failed step cannot undo the callable's own draws.
            query_batch: the ``(I_d, I_c)`` batch of Eq. 4/5 for DIL_ss/DIL_ps; ignored (with a
                warning) by the other variants.

        Returns:
            :class:`StepStats`, read from the device in one transfer.

        Raises:
            ValueError / TypeError: bad arguments (nothing is changed).
            FloatingPointError: a non-finite loss or gradient (everything is rolled back).
        """
        second = self.variant in ("ss", "ps")
        draws = Draws(
            confounder_batches,
            lambda b: validate_batches(b, query_batch, needs_query=second, typed=self._typed, module=self.module),
        )
        batches = draws.first
        if query_batch is not None and not second and not self._warned_query:
            logger.warning("variant %r does not use query_batch; it is ignored", self.variant)
            self._warned_query = True

        named = self._named_trainable()
        params = list(named.values())
        self._rollback.take(
            params,
            list(self.module.buffers()),
            self.inner_optimizer,
            self.generator,
            self.scaler,
            theta=self.variant in ("sf", "pf"),
        )
        try:
            losses, outer, grads, inner_grad = self._compute(
                batches, query_batch, named, params, self._rollback.theta, draws.more
            )
            grad_norm = total_norm(grads)
            scaled = self.scaler is not None and self.variant not in ("sf", "pf")
            if scaled:
                grad_norm = grad_norm / self._scale()
            stacked = torch.cat(
                [torch.stack([x.detach() for x in (*losses, outer)]).double(), grad_norm.detach().double().reshape(1)]
            )
            self.comm.mean_([stacked])
            stats = StepStats(stacked, len(losses))
            if self.check_finite:
                values = stats._floats()
                checked = values[:-1] if scaled else values  # the scaler itself skips overflowed steps
                if not all(map(finite, checked)):
                    raise FloatingPointError(non_finite_message(values, self.variant))
        except BaseException:
            self._rollback.restore()
            raise
        if self.scaler is not None and self.variant not in ("sf", "pf"):
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        if inner_grad is not None:
            self.vstep.commit(inner_grad)
        self.step_count += 1
        return stats

    def _scaled(self, loss: torch.Tensor) -> torch.Tensor:
        return loss if self.scaler is None else self.scaler.scale(loss)

    def _scale(self) -> torch.Tensor:
        """The scaler's current factor as a tensor (no device sync)."""
        return self._scaled(torch.ones((), device=next(self.module.parameters()).device))

    def _order(self, n: int) -> list[int]:
        if self.shuffle and self.variant == "sf":
            return torch.randperm(n, generator=self.generator).tolist()
        return list(range(n))

    def _compute(
        self,
        batches: list[Any],
        query: Any,
        named: dict[str, nn.Parameter],
        params: list[nn.Parameter],
        theta: list[torch.Tensor] | None,
        more: Callable[[], list[Any]] | None = None,
    ) -> tuple[list[torch.Tensor], torch.Tensor, list[torch.Tensor], dict[str, torch.Tensor] | None]:
        model = self.model
        if self.variant == "erm":
            losses = self._losses(model, batches)
            loss = torch.stack(losses).mean()
            self.optimizer.zero_grad(set_to_none=True)
            self._scaled(loss).backward()
            grads = [p.grad for p in params if p.grad is not None]
            if not self._ddp:
                self.comm.mean_(grads)
            return [x.detach() for x in losses], loss.detach(), grads, None

        if self.variant in ("sf", "pf"):
            assert self.inner_optimizer is not None and theta is not None

            def sets() -> Iterator[list[Any]]:
                """One set of batches per DIL_pf inner step / DIL_sf pass, drawn lazily: fresh
                ones from ``more()`` (confounder_batches given as a callable), else the first again."""
                yield batches
                for _ in range(self.inner_steps - 1):
                    yield more() if more is not None else batches

            schedule: Iterator[list[Any]]
            if self.variant == "sf":
                order = self._order(len(batches))
                schedule = ([b[i]] for b in sets() for i in order)
            else:
                order, schedule = [], sets()
            local = self.ddp_mode == "local"
            sync_inner = None
            if self.comm.active and not self._ddp and not local:
                sync_inner = lambda: self.comm.mean_([p.grad for p in params if p.grad is not None])  # noqa: E731
            with model.no_sync() if (self._ddp and local) else contextlib.nullcontext():  # type: ignore[operator]
                history = inner_loop(
                    params,
                    self.inner_optimizer,
                    schedule,
                    lambda group: self._losses(model, group),
                    sync_inner,
                    self.scaler,
                )
            if self.variant == "sf":
                losses = [torch.zeros(())] * len(batches)
                for step_losses, i in zip(history, order):
                    losses[i] = step_losses[0]
            else:
                losses = history[0]
            grads = reptile_gradients(params, theta)
            if local:
                self.comm.mean_(grads)
            return losses, torch.stack(losses).mean(), grads, None

        assert self._fm is not None
        named_theta: dict[str, torch.Tensor] = dict(named)
        args = (named_theta, batches, query, self._losses, self.vstep)
        if self.second_order == "vmap":
            res = serial_second_order_vmap(self.module, *args, self._scaled)
        elif self.second_order == "hvp" and self.variant == "ps":
            split = not (self._typed and batch_coupled(self.module))  # concatenated forward + BatchNorm: together
            if not split and not self._told_coupled:
                logger.info(
                    "second_order='hvp': the model has BatchNorm using batch statistics, so DIL_ps's "
                    "inner batches stay concatenated (one HVP over all of them) to match 'graph'"
                )
                self._told_coupled = True
            res = parallel_second_order_hvp(self._fm, *args, self.comm.mean, self._scaled, split=split)
        else:
            fn = {
                ("ps", "graph"): parallel_second_order,
                ("ss", "graph"): serial_second_order,
                ("ss", "hvp"): serial_second_order_hvp,
            }[(self.variant, self.second_order)]
            res = fn(self._fm, *args, self.comm.mean, self._scaled)
        self.comm.mean_(list(res.grads.values()))
        for k, p in named.items():
            p.grad = res.grads[k]
        return res.confounder_losses, res.outer_loss, list(res.grads.values()), res.inner_grad

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Everything the outer optimizer does not hold: inner optimizer, virtual-step moments,
        the confounder-order generator and the step counter. Save it beside
        ``model.state_dict()`` and ``optimizer.state_dict()``."""
        return {
            "version": _STATE_VERSION,
            "variant": self.variant,
            "step_count": self.step_count,
            "generator": self.generator.get_state(),
            "inner_optimizer": None if self.inner_optimizer is None else self.inner_optimizer.state_dict(),
            "virtual_step": self.vstep.state_dict(),
            "second_order": self.second_order,  # informational: every mode gives the same numbers
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`. Every entry is checked before anything changes: a state
        written for another variant, another model (names, shapes of the moments) or a damaged
        one raises ``ValueError``/``TypeError`` naming the entry, and leaves the wrapper as it was."""
        validate_state(state, self, _STATE_VERSION)
        if self.inner_optimizer is not None:
            self.inner_optimizer.load_state_dict(state["inner_optimizer"])
        self.vstep.load_state_dict(state["virtual_step"])
        self.generator.set_state(state["generator"])
        self.step_count = int(state["step_count"])


DILOptimizer = DILWrapper
