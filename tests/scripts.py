"""Runs a benchmark script in this process as ``python benchmarks/<name>.py argv...`` would
(shared by the table smoke tests)."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_table_script(table: str, argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Run benchmarks/reproduce_<table>.py with ``argv`` as its command line."""
    script = ROOT / "benchmarks" / f"reproduce_{table}.py"
    monkeypatch.setattr(sys, "argv", [str(script), *argv])
    monkeypatch.syspath_prepend(str(ROOT))
    runpy.run_path(str(script), run_name="__main__")
