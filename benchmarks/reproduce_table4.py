"""Reproduce Table 4 of the DIL paper: real image denoising (a) and image deraining (b), cross distortion types.

(a) trains on camera-pipeline noise, one confounder per CFA pattern (RGGB, BGGR, GRBG, GBRG), and
tests on SIDD's validation blocks and DND; (b) trains on three rain types with the Charbonnier
loss (eps 1e-3) and tests on Rain100L, Rain12 and Rain800. PSNR/SSIM on the Y channel; ERM,
DIL_sf and DIL_ps, the paper's numbers beside ours. DND has no public ground truth: each
method's denoised crops are written in the layout of its online benchmark
(``seed*/<method>/dnd_submission/``) and the table says so instead of a number.

Out of the box (no real sets under --data-root) both parts run on SYNTHETIC STAND-INS, labelled
as such everywhere: (a) camera noise without a colour filter array and with other white-balance
gains; (b) the rain-streak style "storm", outside the ranges of the three training styles
(drizzle, streaks, heavy) that stand in for the three rain datasets. With --train-root DIR
holding DID-MDN/, Rain14000/ and HeavyRain/ (input/ + target/ each), (b) trains on the datasets.

    python benchmarks/reproduce_table4.py                         # both parts, quick CPU profile, stand-ins
    python benchmarks/reproduce_table4.py --part derain --seed 0 1
    python benchmarks/reproduce_table4.py --part denoise --data-root DIR --sets SIDD DND --eval-images 0
    python benchmarks/reproduce_table4.py --profile paper --data-root DIR --train-root DF2K/
    python benchmarks/reproduce_table4.py --throughput-only --max-steps 10

Each part writes results.json, its table (table4a.md / table4b.md) and figure to --out/<part>
(default runs/table4a-<profile>, runs/table4b-<profile>). The same runs from an installed wheel:
``dil-optim reproduce table4a|table4b [options]``. Settings: dil_optim.training.reproduce.tables.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dil_optim.training.reproduce.runner import main as run_table
from dil_optim.training.reproduce.tables import TABLE4A_SPEC, TABLE4B_SPEC

PARTS = {"denoise": TABLE4A_SPEC, "derain": TABLE4B_SPEC}


def main(argv: list[str] | None = None) -> list[Path]:
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--part", choices=["both", *PARTS], default="both")
    ap.add_argument("--out", default=None)
    known, rest = ap.parse_known_args(sys.argv[1:] if argv is None else argv)
    if "-h" in rest or "--help" in rest:
        print("reproduce_table4.py [--part both|denoise|derain] [--out DIR] [the options below, for each part]\n")
    parts = list(PARTS) if known.part == "both" else [known.part]
    outs = []
    for part in parts:
        spec = PARTS[part]
        out = ["--out", str(Path(known.out) / spec.name)] if known.out else []
        outs.append(run_table(spec, rest + out, prog=f"reproduce_table4.py --part {part}"))
    return outs


if __name__ == "__main__":
    main()
