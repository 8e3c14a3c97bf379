"""benchmarks/gpu_throughput.py runs on CPU on a tiny net and writes its JSON (the GPU run uses the same code)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_throughput_smoke_on_cpu(tmp_path: Path):
    spec = importlib.util.spec_from_file_location("gpu_throughput", ROOT / "benchmarks" / "gpu_throughput.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "t.json"
    res = mod.main(["--device", "cpu", "--model", "dncnn", "--overrides", '{"depth": 3, "width": 8}', "--size", "8",
                    "--batch", "2", "--steps", "2", "--warmup", "1", "--json", str(out), "--peak-tflops", "0.1",
                    "--only", "erm fp32", "sf bf16+cl+fused", "ps hvp fp32", "ss vmap fp32"])
    data = json.loads(out.read_text())
    assert [c["name"] for c in data["configs"]] == ["erm fp32", "sf bf16+cl+fused", "ps hvp fp32", "ss vmap fp32"]
    assert data["flop_per_ge"] > 0 and all(c["mfu"] > 0 and c["ms_per_ge"] > 0 for c in data["configs"])
    assert [c["ge_per_step"] for c in data["configs"]] == [1, 4, 5, 8]
    assert res["ratios_to_erm_fp32_ms_per_ge"]["erm fp32"] == 1.0
