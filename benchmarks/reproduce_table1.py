"""Reproduce Table 1 of the DIL paper: denoising at unseen noise levels (ERM and four DIL variants).

Trains on AWGN sigma 5, 10, 15, 20 and tests at sigma 15, 20 (seen) and 30, 40, 50 (unseen) on
CBSD68, Kodak24, McMaster, Urban100 and Manga109 (those found under --data-root; the built-in
test photographs when none is). Writes results.json, table1.md and fig1.png to --out.

    python benchmarks/reproduce_table1.py                       # quick CPU profile, built-in images
    python benchmarks/reproduce_table1.py --train-root DIR/train/CBSD400 --data-root DIR --seed 0 1
    python benchmarks/reproduce_table1.py --profile paper --data-root DIR --train-root DF2K/
    python benchmarks/reproduce_table1.py --profile paper --throughput-only --max-steps 50

The same run from an installed wheel: ``dil-optim reproduce table1 [options]``. The settings live
in :mod:`dil_optim.training.reproduce.tables`; docs/results.md has what the quick profile measured.
"""

from dil_optim.training.reproduce.runner import main
from dil_optim.training.reproduce.tables import TABLE1_SPEC

if __name__ == "__main__":
    main(TABLE1_SPEC)
