"""benchmarks/second_order_modes.py runs end to end on a tiny net (no timing assertions)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.second_order_modes import CONFIGS, format_table, parse_args, run  # noqa: E402


def test_tiny_run_reports_every_mode_with_ratios_and_exact_gradients():
    args = parse_args(["--models", "conv", "--repeats", "1", "--warmup", "0", "--size", "8", "--batch", "1",
                       "--confounders", "2", "--channels", "4", "--no-memory"])
    res = run(args)
    m = res["models"]["conv"]
    assert list(m["rows"]) == list(CONFIGS)
    assert all(r["time/graph"] > 0 for r in m["rows"].values())
    assert set(m["max_grad_diff_vs_graph_float32"]) == {"ps/hvp", "ss/hvp", "ss/vmap"}
    assert max(m["max_grad_diff_vs_graph_float32"].values()) < 1e-4
    assert "ss/vmap" in format_table("conv", m["rows"])
