"""Reproduce Table 6 of the DIL paper: DIL on two backbones, RRDB and SwinIR.

Trains every method on each backbone on AWGN sigma 5, 10, 15, 20 (Table 1's setting) and tests
at the unseen sigma 30 (and the seen 20, for reference) on CBSD68, Kodak24 and Urban100; PSNR/SSIM
on RGB. One command runs both backbones (quick profile: rrdb_small and swinir_small; paper
profile: RRDB 64/23/32 and SwinIR's colour-denoising configuration); ``--backbones RRDB`` runs one.
ERM and DIL_sf by default (the paper's "DIL"). Writes results.json, table6.md and
fig_backbones.png to --out.

    python benchmarks/reproduce_table6.py                       # quick CPU profile, built-in images
    python benchmarks/reproduce_table6.py --train-root DIR/train/CBSD400 --data-root DIR --seed 0 1
    python benchmarks/reproduce_table6.py --profile paper --data-root DIR --train-root DF2K/
    python benchmarks/reproduce_table6.py --throughput-only --max-steps 20

The same run from an installed wheel: ``dil-optim reproduce table6 [options]``.
"""

from dil_optim.training.reproduce.runner import main
from dil_optim.training.reproduce.tables import TABLE6_SPEC

if __name__ == "__main__":
    main(TABLE6_SPEC)
