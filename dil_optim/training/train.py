"""The training loop the benchmarks (and the CLI) share: batches in, DIL steps, atomic checkpoints.

Three pieces:

- :class:`ConfounderBatchSource` turns clean patches (a :class:`~dil_optim.data.PatchSampler`)
  into what one :meth:`DILWrapper.step` consumes for a given variant: the n counterfactual
  pairs (DIL), one mixed batch whose samples each get a random confounder (ERM, the fair
  baseline), and a query batch for the second-order variants.
- :func:`train` runs ``steps`` outer steps, steps an optional LR scheduler, calls a callback
  after each step, and writes checkpoints atomically; ``resume=True`` continues a killed run to
  bitwise the same numbers (on CPU; on CUDA up to the determinism of its kernels).
- :func:`save_checkpoint` / :func:`load_checkpoint`: the training state in the verified, atomic
  file of :mod:`dil_optim.training.checkpoint` (plain tensors and containers, read back with
  ``torch.load(weights_only=True)``).

Compute is counted in *gradient evaluations* (ge): one forward + backward pass over a batch of
the sampler's batch size. :func:`ge_per_step` gives each variant's count per outer step.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch

from ..core.wrapper import DILWrapper, StepStats, _normalise_variant
from . import checkpoint
from .interrupt import StopRequest

__all__ = [
    "BatchSource",
    "ConfounderBatchSource",
    "Stateful",
    "TrainResult",
    "batch_mode",
    "ge_per_step",
    "load_checkpoint",
    "save_checkpoint",
    "train",
    "CHECKPOINT_FORMAT",
]

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "dil_optim.train/1"  # the format name of 0.1.0: its checkpoints keep loading

Batch = Any


class Stateful(Protocol):
    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class BatchSource(Stateful, Protocol):
    """What :func:`train` draws from: ``next() -> (confounder_batches, query_batch or None)``."""

    def next(self) -> tuple[list[Batch], Batch | None]: ...


def batch_mode(variant: str) -> str:
    """``"mixed"`` for ERM, ``"confounders"`` for DIL_sf, ``"fresh-confounders"`` for DIL_pf (new
    batches for each inner step, Alg. 3), ``"confounders+query"`` for DIL_ss/ps."""
    v = _normalise_variant(variant)
    return {"erm": "mixed", "sf": "confounders", "pf": "fresh-confounders"}.get(v, "confounders+query")


def ge_per_step(variant: str, n_confounders: int, inner_steps: int | None = None) -> int:
    """Gradient evaluations (forward + backward of one batch of B) per outer step.

    ERM: 1 (one mixed batch). DIL_sf: ``n * inner_steps`` (default 1 pass: n). DIL_pf:
    ``inner_steps * n`` (default 2: each inner step runs n batches, newly drawn for each inner
    step under :func:`batch_mode`'s ``"fresh-confounders"``, so it also consumes ``inner_steps``
    clean batches per outer step; reusing the batches would cost the same ge). DIL_ps: ``n + 1`` (the
    n confounder batches of the virtual step, one query batch). DIL_ss: ``2 n`` (n virtual
    steps, n query passes, one per branch). The extra backward through the virtual update of
    the second-order variants is not counted as a ge: their wall time shows its cost.
    """
    if isinstance(n_confounders, bool) or not isinstance(n_confounders, int) or n_confounders < 1:
        raise ValueError(f"n_confounders must be a positive int, got {n_confounders!r}")
    v = _normalise_variant(variant)
    if v == "erm":
        return 1
    if v == "sf":
        return n_confounders * (inner_steps or 1)
    if v == "pf":
        return n_confounders * (inner_steps or 2)
    return n_confounders + 1 if v == "ps" else 2 * n_confounders


class ConfounderBatchSource:
    """Clean patches -> the batches one :meth:`DILWrapper.step` needs.

    Args:
        sampler: draws clean ``(B, 3, P, P)`` batches in ``[0, 1]`` (``next()``, ``state_dict()``).
        confounders: a :class:`~dil_optim.augment.ConfounderSet`: ``cs(clean, generator)`` gives
            the n ``(degraded, clean)`` pairs, ``cs.sample_mixed(clean, generator)`` one pair
            whose samples each get a confounder drawn uniformly.
        mode: ``"confounders"`` (the n pairs of one clean batch; of n clean batches, one per
            confounder, when ``confounders.content == "independent"``), ``"mixed"`` (ERM: one mixed
            pair), ``"confounders+query"`` (the n pairs, and a mixed query pair made from a
            second, different clean batch). See :func:`batch_mode`.
        generator: CPU generator for the distortions (advanced in place; its state is part of
            :meth:`state_dict`); default one seeded with ``seed``.

    Mode ``"fresh-confounders"`` (DIL_pf, Alg. 3): :meth:`next` returns, in place of the list,
    a callable that draws what mode ``"confounders"`` gives (new clean content, the n pairs) at
    each call; :meth:`DILWrapper.step` calls it once per inner step. The draws advance this
    source's sampler and generator, so a checkpoint taken after the step resumes exactly.
    """

    MODES = ("confounders", "mixed", "confounders+query", "fresh-confounders")

    def __init__(
        self, sampler: Any, confounders: Any, mode: str, *, generator: torch.Generator | None = None, seed: int = 0
    ) -> None:
        if mode not in self.MODES:
            raise ValueError(f"mode must be one of {self.MODES}, got {mode!r}")
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
        self.sampler, self.confounders, self.mode = sampler, confounders, mode
        self.generator = generator if generator is not None else torch.Generator().manual_seed(seed)

    def next(self) -> tuple[list[Batch], Batch | None]:
        """``(confounder_batches, query_batch)``; ``query_batch`` is None unless mode has a query;
        for ``"fresh-confounders"`` ``confounder_batches`` is a callable drawing them."""
        if self.mode == "fresh-confounders":
            return self._draw_fresh, None  # type: ignore[return-value]
        clean = self.sampler.next()
        if self.mode == "mixed":
            return [tuple(self.confounders.sample_mixed(clean, generator=self.generator))], None
        if getattr(self.confounders, "content", "shared") == "independent":  # a clean batch per confounder
            clean = [clean] + [self.sampler.next() for _ in range(len(self.confounders) - 1)]
        pairs = [tuple(p) for p in self.confounders(clean, generator=self.generator)]
        if self.mode == "confounders":
            return pairs, None
        query = tuple(self.confounders.sample_mixed(self.sampler.next(), generator=self.generator))
        return pairs, query

    def _draw_fresh(self) -> list[Batch]:
        """One call: the batches mode ``"confounders"`` would give for the next clean content."""
        mode, self.mode = self.mode, "confounders"
        try:
            return self.next()[0]
        finally:
            self.mode = mode

    def state_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "sampler": self.sampler.state_dict(), "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("mode") != self.mode:
            raise ValueError(f"batch-source state is for mode {state.get('mode')!r}, this source is {self.mode!r}")
        self.sampler.load_state_dict(state["sampler"])
        self.generator.set_state(state["generator"])


@dataclass
class TrainResult:
    """What :func:`train` did: the step it ended at, the step it resumed from (None: fresh),
    the training wall time in seconds summed over all sessions of the run, and the last
    step's :class:`StepStats`; ``interrupted``: SIGTERM/SIGINT stopped it early (after
    writing a checkpoint), so ``step < steps``."""

    step: int
    resumed_from: int | None
    wall_time_s: float
    last_stats: StepStats | None = None
    losses: list[float] = field(default_factory=list)
    interrupted: bool = False


def save_checkpoint(path: str | os.PathLike[str], state: Mapping[str, Any]) -> None:
    """Write a training checkpoint: atomically, with a SHA-256 of its payload
    (see :mod:`dil_optim.training.checkpoint`)."""
    checkpoint.save_checkpoint(dict(state), path)


def load_checkpoint(path: str | os.PathLike[str], map_location: Any = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`train`, verified and with ``weights_only=True``.

    Raises ``FileNotFoundError`` (no file), :class:`~dil_optim.training.checkpoint.CheckpointError`
    (truncated, altered, not a checkpoint file) or ``ValueError`` (another format).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    state = checkpoint.load_checkpoint(path, map_location=map_location)
    if state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a {CHECKPOINT_FORMAT} checkpoint (format {state.get('format')!r})")
    return state


def _snapshot(
    dil: DILWrapper,
    source: BatchSource,
    scheduler: Any,
    step: int,
    wall: float,
    stateful: Mapping[str, Stateful],
    losses: list[float],
) -> dict[str, Any]:
    return {
        "format": CHECKPOINT_FORMAT,
        "step": step,
        "wall_time_s": wall,
        "model": dil.module.state_dict(),  # without DDP's "module." prefix
        "optimizer": dil.optimizer.state_dict(),
        "dil": dil.state_dict(),
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "source": source.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "extra": {k: v.state_dict() for k, v in stateful.items()},
        "losses": torch.tensor(losses, dtype=torch.float64),
    }


def _restore(
    state: dict[str, Any], dil: DILWrapper, source: BatchSource, scheduler: Any, stateful: Mapping[str, Stateful]
) -> None:
    if (state["scheduler"] is None) != (scheduler is None):
        raise ValueError("checkpoint and this run disagree on having an LR scheduler")
    missing = sorted(set(stateful) - set(state["extra"]))
    if missing:
        raise ValueError(f"checkpoint has no state for {missing}")
    dil.module.load_state_dict(state["model"])
    dil.optimizer.load_state_dict(state["optimizer"])
    dil.load_state_dict(state["dil"])
    if scheduler is not None:
        scheduler.load_state_dict(state["scheduler"])
    source.load_state_dict(state["source"])
    torch.set_rng_state(state["torch_rng"])
    for k, v in stateful.items():
        v.load_state_dict(state["extra"][k])


def _stop_agreed(stop: StopRequest, dil: DILWrapper) -> bool:
    """Whether to stop now: a signal arrived here, or (under torch.distributed) on any rank."""
    stopping = stop.requested is not None
    if dil.comm.active:
        flag = torch.tensor([float(stopping)], device=next(dil.module.parameters()).device)
        dil.comm.mean_([flag])
        stopping = flag.item() > 0
    return stopping


def train(
    dil: DILWrapper,
    source: BatchSource,
    *,
    steps: int,
    scheduler: Any = None,
    checkpoint_path: str | os.PathLike[str] | None = None,
    checkpoint_every: int = 0,
    resume: bool = False,
    callback: Callable[[int, StepStats], None] | None = None,
    stateful: Mapping[str, Stateful] | None = None,
    sync: Callable[[], None] | None = None,
) -> TrainResult:
    """Run outer steps ``step+1 .. steps`` of ``dil`` on batches from ``source``.

    Args:
        dil: the wrapper; its ``model`` and ``optimizer`` are trained in place.
        source: ``next() -> (confounder_batches, query_batch)``, with ``state_dict()``.
        steps: the total number of outer steps of the run (not of this session).
        scheduler: an LR scheduler on ``dil.optimizer``, stepped once per outer step.
        checkpoint_path: where to write checkpoints (every ``checkpoint_every`` steps, and at
            the end); None: no checkpoints.
        resume: continue from ``checkpoint_path`` when that file exists (a fresh start
            otherwise). Model, outer optimizer, ``dil.state_dict()``, scheduler, the batch
            source's RNG and sampler state, the global torch RNG, ``stateful`` objects and the
            step counter are restored.
        callback: ``callback(step, stats)`` after each outer step (step counts from 1);
            it runs before that step's checkpoint is written.
        stateful: extra objects (``state_dict``/``load_state_dict``) saved in each checkpoint,
            e.g. the record of evaluations made along the way.
        sync: called before reading the clock (e.g. ``torch.cuda.synchronize``).

    Returns:
        :class:`TrainResult`; ``losses`` holds each step's outer loss (the whole run's).
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative int, got {steps!r}")
    if isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, int) or checkpoint_every < 0:
        raise ValueError(f"checkpoint_every must be a non-negative int, got {checkpoint_every!r}")
    if resume and checkpoint_path is None:
        raise ValueError("resume=True needs a checkpoint_path")
    stateful = dict(stateful or {})
    step, wall, resumed_from, losses = 0, 0.0, None, []
    if resume and Path(checkpoint_path).is_file():  # type: ignore[arg-type]
        state = load_checkpoint(checkpoint_path)  # type: ignore[arg-type]
        if state["step"] > steps:
            raise ValueError(f"checkpoint {checkpoint_path} is at step {state['step']}, past steps={steps}")
        _restore(state, dil, source, scheduler, stateful)
        step, wall, losses = int(state["step"]), float(state["wall_time_s"]), state["losses"].tolist()
        resumed_from = step
        logger.info("resumed from %s at step %d", checkpoint_path, step)

    def save() -> None:
        if checkpoint_path is not None:
            save_checkpoint(checkpoint_path, _snapshot(dil, source, scheduler, step, wall, stateful, losses))

    stats: StepStats | None = None
    interrupted = False
    with StopRequest() as stop:
        while step < steps:
            if sync is not None:
                sync()
            t0 = time.perf_counter()
            batches, query = source.next()
            stats = dil.step(batches, query_batch=query)
            if scheduler is not None:
                scheduler.step()
            step += 1
            losses.append(stats.outer_loss)  # reads the stats: the device is synced
            if sync is not None:
                sync()
            wall += time.perf_counter() - t0  # callbacks and checkpoint writing are not training time
            if callback is not None:
                callback(step, stats)
            if _stop_agreed(stop, dil) and step < steps:
                interrupted = True
                logger.warning("stopping at step %d of %d on request; checkpoint: %s", step, steps, checkpoint_path)
                break
            if checkpoint_every and step % checkpoint_every == 0 and step < steps:
                save()
    if resumed_from != step:
        save()
    return TrainResult(
        step=step, resumed_from=resumed_from, wall_time_s=wall, last_stats=stats, losses=losses, interrupted=interrupted
    )
