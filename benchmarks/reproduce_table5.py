"""Reproduce Table 5 of the DIL paper: x4 real-world super-resolution (cross distortion types).

Trains RRDB x4 (quick profile: rrdb_small x4) on Real-ESRGAN's first-order degradation model
split into four confounders by blur type (isotropic / anisotropic) x noise type (Gaussian /
Poisson) and tests on RealSR V3 and DRealSR; PSNR/SSIM on the Y channel; ERM, DIL_sf and DIL_ps
with the paper's numbers beside ours. The paper's Real-ESRNet and BSRNet rows (other networks)
are shown in the table's notes as the paper's numbers.

Out of the box (no real sets under --data-root) it runs on SYNTHETIC STAND-INS, labelled as such
everywhere: bicubic x4 down-sampling followed by camera-pipeline noise, and Real-ESRGAN's full
second-order model, applied to the built-in photographs.

    python benchmarks/reproduce_table5.py                       # quick CPU profile, stand-ins
    python benchmarks/reproduce_table5.py --data-root DIR --seed 0 1
    python benchmarks/reproduce_table5.py --profile paper --data-root DIR --train-root DF2K/
    python benchmarks/reproduce_table5.py --throughput-only --max-steps 10

Writes results.json, table5.md and fig_realsr.png to --out. The same run from an installed
wheel: ``dil-optim reproduce table5 [options]``. Settings: dil_optim.training.reproduce.tables.
"""

from dil_optim.training.reproduce.runner import main
from dil_optim.training.reproduce.tables import TABLE5_SPEC

if __name__ == "__main__":
    main(TABLE5_SPEC)
