"""Mixed-precision smoke run: every variant under bf16 autocast and float16 + GradScaler.

Trains a small DnCNN for a few steps per (variant, precision) on random patches and prints the
first and last outer loss, the loss scale and the time per step. On CPU float16 runs too (the
same code path as CUDA), but it is meant for a GPU:

    PYTHONPATH=. python benchmarks/amp_smoke.py --device cuda --steps 20
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from dil_optim import VARIANTS, DILWrapper
from dil_optim.models import build_model

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def run(variant: str, precision: str, device: torch.device, steps: int, size: int) -> dict[str, float]:
    torch.manual_seed(0)
    model = build_model("dncnn").to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    dtype = PRECISIONS[precision]
    scaler = torch.amp.GradScaler(device.type) if dtype == torch.float16 else None
    dil = DILWrapper(model, opt, nn.L1Loss(), variant, inner_lr=1e-3, autocast_dtype=dtype, grad_scaler=scaler)
    g = torch.Generator(device=device).manual_seed(0)
    clean = torch.rand(8, 3, size, size, generator=g, device=device)
    batches = [((clean + s / 255 * torch.randn(clean.shape, generator=g, device=device)).clamp(0, 1), clean)
               for s in (5, 10, 15, 20)]
    query = batches[-1] if variant in ("ss", "ps") else None
    first = dil.step(batches, query).outer_loss
    t0 = time.perf_counter()
    for _ in range(steps - 1):
        last = dil.step(batches, query).outer_loss
    ms = 1e3 * (time.perf_counter() - t0) / max(1, steps - 1)
    return {"first": first, "last": last, "scale": scaler.get_scale() if scaler else 1.0, "ms": ms}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--size", type=int, default=64)
    args = ap.parse_args()
    device = torch.device(args.device)
    print(f"{'variant':8} {'precision':9} {'loss@1':>8} {'loss@end':>9} {'scale':>8} {'ms/step':>8}")
    for variant in VARIANTS:
        for precision in PRECISIONS:
            r = run(variant, precision, device, args.steps, args.size)
            print(f"{variant:8} {precision:9} {r['first']:8.4f} {r['last']:9.4f} {r['scale']:8.0f} {r['ms']:8.1f}")


if __name__ == "__main__":
    main()
