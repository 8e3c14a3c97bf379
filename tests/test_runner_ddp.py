"""torchrun runs the table runner data-parallel: 2 gloo processes on CPU give the one-process
numbers (each rank keeps its shard of the same global batch; gradients averaged every step)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dil_optim.training.launch import ShardedSource
from dil_optim.training.train import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
METHODS = ["erm", "sf", "pf", "ps"]


def _args(train_root: Path, out: Path) -> list[str]:
    return ["--train-root", str(train_root), "--out", str(out), "--methods", *METHODS, "--sigmas", "20", "50",
            "--budget-ge", "24", "--patch-size", "8", "--batch-size", "4", "--evals", "1", "--eval-images", "1",
            "--eval-crop", "24", "--threads", "1", "--device", "cpu", "--workers", "1"]


def test_sharded_source_splits_every_kind_of_batch():
    class Source:
        def next(self):
            pair = (torch.arange(4.0), torch.arange(4.0) + 10)
            return [pair, pair], pair

        def state_dict(self):
            return {"x": 1}

    batches, query = ShardedSource(Source(), 4, 1, 2).next()
    assert [b[0].tolist() for b in batches] == [[2.0, 3.0]] * 2 and query[1].tolist() == [12.0, 13.0]

    class Fresh(Source):
        def next(self):
            return (lambda: super(Fresh, self).next()[0]), None

    draw, none = ShardedSource(Fresh(), 4, 0, 2).next()
    assert none is None and [b[0].tolist() for b in draw()] == [[0.0, 1.0]] * 2
    assert ShardedSource(Source(), 4, 0, 2).state_dict() == {"x": 1}
    with pytest.raises(ValueError, match="batch size 5 does not split over 2 processes"):
        ShardedSource(Source(), 5, 0, 2)


def test_two_gloo_processes_give_the_one_process_numbers(tmp_path: Path):
    root = tmp_path / "train"
    root.mkdir()
    rng = np.random.default_rng(3)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (30, 34, 3), dtype=np.uint8)).save(root / f"im{i}.png")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    script = str(ROOT / "benchmarks" / "reproduce_table1.py")
    one, two = tmp_path / "one", tmp_path / "two"
    subprocess.run([sys.executable, script, *_args(root, one)], check=True, env=env, capture_output=True, timeout=600)
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                           script, *_args(root, two)], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    a, b = (json.loads((d / "results.json").read_text()) for d in (one, two))
    assert [r["processes"] for r in b["runs"]] == [2] * len(METHODS)
    assert (two / "table1.md").is_file() and (two / "fig1.png").is_file()
    for ra, rb in zip(a["results"], b["results"]):
        assert (ra["method"], ra["sigma"]) == (rb["method"], rb["sigma"])
        assert abs(ra["psnr"] - rb["psnr"]) < 1e-3, (ra, rb)
    for label in ("ERM", "DIL_sf", "DIL_pf", "DIL_ps"):
        wa = load_checkpoint(one / "seed0" / label / "checkpoint.pt")["model"]
        wb = load_checkpoint(two / "seed0" / label / "checkpoint.pt")["model"]
        for k in wa:
            torch.testing.assert_close(wa[k], wb[k], rtol=1e-4, atol=1e-5, msg=f"{label} {k}")
