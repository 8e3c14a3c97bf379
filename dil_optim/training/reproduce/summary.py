"""The numbers a reproduction's table and figure share: mean PSNR per seed at the unseen levels
and each method's gain over its ERM."""

from __future__ import annotations

import statistics
from typing import Any

__all__ = ["erm_label", "mean", "summarise"]


def mean(xs: list[float]) -> float:
    """The mean of ``xs``; NaN when empty."""
    return statistics.fmean(xs) if xs else float("nan")


def summarise(
    results: list[dict[str, Any]], key: str, methods: list[str], unseen: set[float]
) -> dict[str, dict[str, Any]]:
    """Per method: mean PSNR over sets and unseen levels per seed, its mean, and its gain over ERM."""
    out: dict[str, dict[str, Any]] = {}
    for m in methods:
        per_seed: dict[int, float] = {}
        for seed in sorted({r["seed"] for r in results}):
            vals = [r["psnr"] for r in results if r["method"] == m and r["seed"] == seed and r[key] in unseen]
            if vals:
                per_seed[seed] = mean(vals)
        out[m] = {"per_seed": per_seed, "mean": mean(list(per_seed.values()))}
    for m, s in out.items():
        erm = out.get(erm_label(m))
        if erm is not None:
            gains = {k: v - erm["per_seed"][k] for k, v in s["per_seed"].items() if k in erm["per_seed"]}
            s["gain_per_seed"] = gains
            s["gain"] = mean(list(gains.values()))
    return out


def erm_label(method: str) -> str:
    """The ERM a method's gain is measured against: ``"ERM"``, or the same backbone's (``"RRDB/ERM"``)."""
    prefix, _, _ = method.rpartition("/")
    return f"{prefix}/ERM" if prefix else "ERM"
