"""The convergence check of a reproduction run: did its seen-level validation PSNR still rise
over the last quarter of its budget ("under-trained")? And the steps at which a run is scored."""

from __future__ import annotations

from typing import Any

from .summary import mean

__all__ = ["CONVERGENCE_DB", "eval_steps", "seen_val_psnr", "undertrained"]

#: a method whose seen-level validation PSNR rose by more than this over the last quarter of its
#: budget is flagged "under-trained"
CONVERGENCE_DB = 0.1


def seen_val_psnr(entry: dict[str, Any], train_levels: tuple[float, ...]) -> float:
    """Mean validation PSNR at the seen levels of one evaluation along training."""
    return mean([r["psnr"] for r in entry.get("val", []) if r["level"] in train_levels])


def undertrained(history: list[dict[str, Any]], steps: int, train_levels: tuple[float, ...]) -> dict[str, Any] | None:
    """The convergence check: seen-level validation PSNR at the end minus at 3/4 of the steps
    (the last evaluation at or before it); ``None`` without validation evaluations."""
    vals = [e for e in history if e.get("val")]
    if not vals or vals[-1]["step"] != steps:
        return None
    early = [e for e in vals if e["step"] <= round(0.75 * steps)]
    if not early:
        return None
    rise = seen_val_psnr(vals[-1], train_levels) - seen_val_psnr(early[-1], train_levels)
    return {"rise_db": rise, "from_step": early[-1]["step"], "flag": rise > CONVERGENCE_DB}


def eval_steps(steps: int, evals: int, with_val: bool) -> set[int]:
    """Steps at which a run is scored: ``evals`` evenly spaced, plus 3/4 of the way for the convergence check."""
    at = {max(1, round(steps * i / evals)) for i in range(1, evals + 1)}
    return at | {max(1, round(0.75 * steps))} if with_val else at
