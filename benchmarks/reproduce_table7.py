"""Reproduce Table 7 of the DIL paper: first-order (D1) against second-order (D2) training distortions.

Trains the x4 network of Table 5 twice, on Real-ESRGAN's first-order model (D1) and on its
second-order model (D2), each split into blur x noise confounders, with ERM and DIL (DIL_sf, the
paper's "DIL"; see the notes), from the same initial weights per seed; tests on RealSR V3 and
DRealSR; PSNR/SSIM on the Y channel, the paper's numbers beside ours. ``--backbones D1`` runs one.

Out of the box (no real sets under --data-root) it runs on SYNTHETIC STAND-INS, labelled as such
everywhere: bicubic x4 + camera noise (outside both D1 and D2) and Real-ESRGAN's full second-order
model (unseen for D1, inside D2's training distribution).

    python benchmarks/reproduce_table7.py                       # quick CPU profile, stand-ins
    python benchmarks/reproduce_table7.py --data-root DIR --seed 0 1
    python benchmarks/reproduce_table7.py --profile paper --data-root DIR --train-root DF2K/
    python benchmarks/reproduce_table7.py --throughput-only --max-steps 10

Writes results.json, table7.md and fig_realsr_d1d2.png to --out. The same run from an installed
wheel: ``dil-optim reproduce table7 [options]``. Settings: dil_optim.training.reproduce.tables.
"""

from dil_optim.training.reproduce.runner import main
from dil_optim.training.reproduce.tables import TABLE7_SPEC

if __name__ == "__main__":
    main(TABLE7_SPEC)
