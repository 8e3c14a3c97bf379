"""What a reproduction run keeps in its checkpoints besides the model: the configuration it was
started with (a resume with another one is refused, naming each difference) and its evaluations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..preflight import flatten

__all__ = ["ConfigGuard", "History", "differences"]


def differences(saved: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """``"key.sub: saved X, now Y"`` for every leaf that differs between two nested configurations."""
    a, b = flatten(saved), flatten(now)
    return [f"{k}: saved {a.get(k)!r}, now {b.get(k)!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


class ConfigGuard:
    """Saved in each checkpoint; on resume, refuses one written with another configuration."""

    def __init__(self, config: dict[str, Any], where: Path) -> None:
        self.config, self.where = config, where

    def check(self, saved: dict[str, Any]) -> None:
        diff = differences(saved, self.config)
        if diff:
            raise ValueError(
                f"--resume: {self.where} was written with another configuration ({'; '.join(diff)}); "
                "rerun without --resume to start over, or give another --out"
            )

    def state_dict(self) -> dict[str, Any]:
        return {"json": json.dumps(self.config)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.check(json.loads(state["json"]))


class History:
    """The evaluations made along one training run (saved in its checkpoints)."""

    def __init__(self) -> None:
        self.evals: list[dict[str, Any]] = []

    def state_dict(self) -> dict[str, Any]:
        return {"json": json.dumps(self.evals)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.evals = json.loads(state["json"])
