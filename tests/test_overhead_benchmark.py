"""benchmarks/overhead.py: its references do the same maths as DILWrapper.step (fairness guard).

No timing asserts: the speed targets are reported by the benchmark itself.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("overhead_benchmark", ROOT / "benchmarks" / "overhead.py")
assert _spec is not None and _spec.loader is not None
overhead = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(overhead)

TINY = ["--size", "6", "--batch", "2", "--channels", "4", "--confounders", "3", "--repeats", "2",
        "--warmup", "3", "--threads", "1", "--no-memory", "--device", "cpu"]


@pytest.fixture(scope="module")
def result():
    return overhead.run(overhead.parse_args(TINY), dtype=torch.float64)


@pytest.mark.parametrize("variant", overhead.VARIANTS)
def test_references_reach_the_same_parameters_as_dil(result, variant):
    row = result["rows"][variant]
    expected = {"sf": {"hand", "authors"}}.get(variant, {"hand"})
    assert set(row["param_diff"]) == expected
    # Three steps moved the weights by ~3 x lr (Adam); the references agree to float64 rounding.
    assert row["param_moved"] > 1e-4
    for kind, diff in row["param_diff"].items():
        assert diff < 1e-12, f"{variant}: {kind} differs from dil.step() by {diff}"


def test_the_check_would_catch_different_maths():
    torch.manual_seed(0)
    net = overhead.conv_net(4).double()
    batches, query = overhead.make_data(3, 2, 6, torch.device("cpu"), torch.float64)
    ps, step_ps = overhead.build("ps", "dil", net, batches, query)
    ss, step_ss = overhead.build("ss", "hand", net, batches, query)
    sf, step_sf = overhead.build("sf", "hand", net, batches, query, seed=1)  # another confounder order
    sf0, step_sf0 = overhead.build("sf", "dil", net, batches, query, seed=0)
    for step in (step_ps, step_ss, step_sf, step_sf0):
        step()
    assert overhead._max_param_diff(ps, ss) > 1e-9
    assert overhead._max_param_diff(sf, sf0) > 1e-9


def test_table_has_every_ratio(result):
    rows = result["rows"]
    assert list(rows) == list(overhead.VARIANTS)
    for v, row in rows.items():
        assert row["dil/hand"] > 0 and result["rows_cpu_time"][v]["dil/hand"] > 0
        assert len(result["times"][v]["wall"]["dil"]) == len(result["times"][v]["cpu"]["dil"]) == 2
    assert "dil/authors" in rows["sf"] and "dil/erm" in rows["ss"] and "dil/erm" in rows["ps"]
    assert set(rows["sf"]["fixed_ms"]) == {"hand", "authors"} and set(rows["ps"]["fixed_ms"]) == {"hand"}
    assert len(result["times_8x8_batch1"]["ss"]["wall"]["erm"]) == 2
    table = overhead.format_table(rows)
    assert table.count("\n") == 1 + len(rows)
    assert result["memory_bytes"] is None


def test_bad_sizes_are_refused():
    with pytest.raises(SystemExit):
        overhead.parse_args(["--batch", "0"])


@pytest.mark.slow
def test_cpu_memory_child_reports_a_peak(tmp_path):
    out = tmp_path / "o.json"
    args = [a for a in TINY if a != "--no-memory"] + ["--variants", "erm", "--json", str(out)]
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "overhead.py"), *args], check=True,
                   cwd=ROOT, capture_output=True)
    mem = json.loads(out.read_text())["memory_bytes"]["erm"]
    assert mem["dil"] > 0 and mem["hand"] > 0
