"""Reproduce Table 3 of the DIL paper: hybrid distortions (blur, then noise, then JPEG).

Trains on the severe hybrid levels (one confounder per level sum 18, 19, 20) and tests on mild
and moderate (unseen) and severe (seen) on BSD100, Urban100, Manga109 and DIV2K (validation);
PSNR/SSIM on the Y channel. ERM and DIL_sf by default (the paper's "DIL" is shown beside
DIL_sf, the table's notes say why); ``--methods erm sf pf ss ps`` runs every variant. Levels on
the command line by name: ``--levels mild moderate severe``. Writes results.json, table3.md and
fig_hybrid.png to --out.

    python benchmarks/reproduce_table3.py                       # quick CPU profile, built-in images
    python benchmarks/reproduce_table3.py --train-root DIR/train/CBSD400 --data-root DIR --seed 0 1
    python benchmarks/reproduce_table3.py --profile paper --data-root DIR --train-root DF2K/
    python benchmarks/reproduce_table3.py --throughput-only --max-steps 20

The same run from an installed wheel: ``dil-optim reproduce table3 [options]``.
"""

from dil_optim.training.reproduce.runner import main
from dil_optim.training.reproduce.tables import TABLE3_SPEC

if __name__ == "__main__":
    main(TABLE3_SPEC)
