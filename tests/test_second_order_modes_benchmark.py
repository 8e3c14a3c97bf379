"""benchmarks/second_order_modes.py runs end to end on a tiny net (no timing assertions)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.second_order_modes import CONFIGS, format_table, parse_args, run, summarise  # noqa: E402


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


def test_memory_ratios_skip_a_reference_that_read_zero():
    times = {"ps/graph": {"wall": [1.0], "cpu": [1.0]}, "ps/hvp": {"wall": [0.5], "cpu": [0.5]}}
    rows = summarise(times, {"ps/graph": 0, "ps/hvp": 4096, "erm1/graph": 8192})
    assert "mem/graph" not in rows["ps/hvp"] and rows["ps/hvp"]["mem/erm_one_batch"] == 0.5


@pytest.mark.slow
def test_cpu_memory_children_report_each_mode(tmp_path):
    out = tmp_path / "m.json"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "second_order_modes.py"), "--models", "conv",
                    "--repeats", "1", "--warmup", "0", "--size", "32", "--batch", "4", "--confounders", "2",
                    "--channels", "16", "--json", str(out)], check=True, cwd=ROOT, capture_output=True)
    mem = json.loads(out.read_text())["models"]["conv"]["memory_bytes"]
    assert set(mem) == {"erm1/graph", "ps/graph", "ps/hvp", "ss/graph", "ss/hvp", "ss/vmap"}
    assert mem["ps/graph"] > mem["erm1/graph"] > 0
