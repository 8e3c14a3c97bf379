"""Reproduce Table 1 of the DIL paper: denoising at unseen noise levels (ERM and four DIL variants).

Trains on AWGN sigma 5, 10, 15, 20 and tests at sigma 15, 20 (seen) and 30, 40, 50 (unseen) on
CBSD68, Kodak24, McMaster, Urban100 and Manga109 (those found under --data-root; the built-in
test photographs when none is). Writes results.json, table1.md and fig1.png to --out.

    python benchmarks/reproduce_table1.py                       # quick CPU profile, built-in images
    python benchmarks/reproduce_table1.py --train-root DIR/train/CBSD400 --data-root DIR --seed 0 1
    python benchmarks/reproduce_table1.py --profile paper --data-root DIR --train-root DF2K/
    python benchmarks/reproduce_table1.py --profile paper --throughput-only --max-steps 50

See docs/results.md for what the quick profile measured and benchmarks/runner.py for the options.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.paper_numbers import TABLE1  # noqa: E402
from benchmarks.runner import TableSpec, main  # noqa: E402

TABLE1_SPEC = TableSpec(
    name="table1",
    title="Table 1 (denoising, unseen noise levels)",
    kind="awgn",
    level_key="sigma",
    train_levels=(5, 10, 15, 20),
    eval_levels=(15, 20, 30, 40, 50),
    datasets=("CBSD68", "Kodak24", "McMaster", "Urban100", "Manga109"),
    paper={k: dict(v) for k, v in TABLE1.items()},
    figure="fig1",
)

if __name__ == "__main__":
    main(TABLE1_SPEC)
