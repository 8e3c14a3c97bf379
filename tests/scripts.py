"""What the table smoke tests share: running a benchmark script in this process as
``python benchmarks/<name>.py argv...`` would, and a folder of random training images."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def run_table_script(table: str, argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Run benchmarks/reproduce_<table>.py with ``argv`` as its command line."""
    script = ROOT / "benchmarks" / f"reproduce_{table}.py"
    monkeypatch.setattr(sys, "argv", [str(script), *argv])
    monkeypatch.syspath_prepend(str(ROOT))
    runpy.run_path(str(script), run_name="__main__")


def write_train_images(root: Path, count: int, height: int, width: int, seed: int) -> Path:
    """``count`` uniform-noise RGB PNGs of ``height x width`` (``img0.png``, ...) in ``root``, drawn
    from ``numpy.random.default_rng(seed)``; returns ``root``."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(root / f"img{i}.png")
    return root
