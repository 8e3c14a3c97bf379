"""Reproduce Table 2 of the DIL paper: deblurring at unseen blur levels (ERM and four DIL variants).

Trains on Gaussian blur sigma 1, 2, 3, 4 and tests at sigma 4.0 (seen, for reference) and 4.2,
4.4, 4.6, 4.8, 5.0 (unseen) on Set5, Set14, BSD100, Urban100 and Manga109 (those found under
--data-root; the built-in test photographs when none is); PSNR/SSIM on RGB. The paper prints one
"DIL" column without naming the variant: it is shown beside DIL_sf (the table's notes say why).
Writes results.json, table2.md and fig_deblur.png to --out.

    python benchmarks/reproduce_table2.py                       # quick CPU profile, built-in images
    python benchmarks/reproduce_table2.py --train-root DIR/train/CBSD400 --data-root DIR --seed 0 1
    python benchmarks/reproduce_table2.py --profile paper --data-root DIR --train-root DF2K/
    python benchmarks/reproduce_table2.py --throughput-only --max-steps 20

The same run from an installed wheel: ``dil-optim reproduce table2 [options]``. The settings live
in :mod:`dil_optim.training.reproduce.tables`; docs/results.md has the quick profile's budget.
"""

from dil_optim.training.reproduce.runner import main
from dil_optim.training.reproduce.tables import TABLE2_SPEC

if __name__ == "__main__":
    main(TABLE2_SPEC)
