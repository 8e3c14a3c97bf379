"""Throughput, memory and FLOP utilisation of every variant under every speed option: one JSON.

For each configuration (variant x fast-path options x second-order mode) on fixed random
batches already on the device (data loading is not timed): it/s and ms per gradient evaluation
(ge: one forward + backward of a batch; :func:`dil_optim.training.train.ge_per_step`), peak
memory (CUDA: ``torch.cuda.max_memory_allocated``), and the model FLOP utilisation

    MFU = ge/s x FLOP per ge / peak FLOP/s,

with FLOP per ge counted by ``torch.utils.flop_counter.FlopCounterMode`` on one forward and
backward of the model (the extra work of second-order steps is not counted as model FLOP, so
their MFU shows what they pay for it) and the peak the GPU's dense bf16 rate (``--peak-tflops``,
default 989 for an H200). Configurations run longest-idea-last under a global deadline
(``--deadline-s``): what does not fit is recorded as skipped, and the JSON is rewritten after
each configuration, so a cut-off run keeps what it measured.

    PYTHONPATH=. python benchmarks/gpu_throughput.py --json gpu_throughput.json            # paper RRDB, cuda
    PYTHONPATH=. python benchmarks/gpu_throughput.py --device cpu --model dncnn --size 16 --steps 2 --json t.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from dil_optim import DILWrapper  # noqa: E402
from dil_optim.models import build_model  # noqa: E402
from dil_optim.training import fast  # noqa: E402
from dil_optim.training.train import ge_per_step  # noqa: E402

N_CONF = 4
# (name, variant, fast options, second_order): cheapest and most informative first
CONFIGS: list[tuple[str, str, tuple[str, ...], str]] = [
    ("erm fp32", "erm", (), "graph"),
    ("erm tf32+cl+fused", "erm", ("tf32", "channels_last", "fused"), "graph"),
    ("erm bf16+cl+fused", "erm", ("bf16", "channels_last", "fused"), "graph"),
    ("sf fp32", "sf", (), "graph"),
    ("sf bf16+cl+fused", "sf", ("bf16", "channels_last", "fused"), "graph"),
    ("pf fp32", "pf", (), "graph"),
    ("pf bf16+cl+fused", "pf", ("bf16", "channels_last", "fused"), "graph"),
    ("ps graph fp32", "ps", (), "graph"),
    ("ps hvp fp32", "ps", (), "hvp"),
    ("ps hvp tf32+cl", "ps", ("tf32", "channels_last"), "hvp"),
    ("ss graph fp32", "ss", (), "graph"),
    ("ss hvp fp32", "ss", (), "hvp"),
    ("ss vmap fp32", "ss", (), "vmap"),
    ("erm bf16+cl+fused+compile", "erm", ("bf16", "channels_last", "fused", "compile"), "graph"),
    ("sf bf16+cl+fused+compile", "sf", ("bf16", "channels_last", "fused", "compile"), "graph"),
    ("pf bf16+cl+fused+compile", "pf", ("bf16", "channels_last", "fused", "compile"), "graph"),
]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def flop_per_ge(model: torch.nn.Module, x: torch.Tensor) -> int:
    """FLOP of one forward + backward of ``model`` on ``x`` (L1 loss against ``x``)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        (model(x) - x).abs().mean().backward()
    model.zero_grad(set_to_none=True)
    return int(counter.get_total_flops())


def batches(n: int, batch: int, size: int, device: torch.device, seed: int = 0) -> list[tuple[torch.Tensor, ...]]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        clean = torch.rand(batch, 3, size, size, generator=g)
        noisy = (clean + (5 * (i + 1)) / 255 * torch.randn(clean.shape, generator=g)).clamp(0, 1)
        out.append((noisy.to(device), clean.to(device)))
    return out


def measure(name: str, variant: str, options: tuple[str, ...], mode: str, args: argparse.Namespace,
            device: torch.device, budget_s: float) -> dict[str, Any]:
    torch.manual_seed(0)
    model = fast.prepare_model(build_model(args.model, **json.loads(args.overrides)).to(device), variant, device,
                               options)
    opt = fast.adam(model.parameters(), 1e-4, device, options)
    kw: dict[str, Any] = {"second_order": mode} if variant in ("ss", "ps") else {}
    dil = DILWrapper(model, opt, torch.nn.L1Loss(), variant, inner_lr=1e-4,
                     autocast_dtype=fast.autocast_dtype(options), **kw)
    conf = batches(N_CONF, args.batch, args.size, device)
    erm_batch = [(torch.cat([b[0] for b in conf[:1]]), torch.cat([b[1] for b in conf[:1]]))]
    query = batches(1, args.batch, args.size, device, seed=1)[0]

    def step() -> None:
        if variant == "erm":
            dil.step(erm_batch)
        else:
            dil.step(conf, query_batch=query if variant in ("ss", "ps") else None)

    t0 = time.perf_counter()
    for _ in range(args.warmup):
        step()
    _sync(device)
    warm_s = time.perf_counter() - t0
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    n, t0 = 0, time.perf_counter()
    while n < args.steps:
        step()
        n += 1
        if n >= 2 and time.perf_counter() - t0 > budget_s:
            break
    _sync(device)
    wall = time.perf_counter() - t0
    gps = ge_per_step(variant, N_CONF)
    return {"name": name, "variant": variant, "fast": list(options), "second_order": mode, "steps": n,
            "warmup_s": warm_s, "wall_s": wall, "it_per_s": n / wall, "ge_per_step": gps,
            "ms_per_ge": 1e3 * wall / (n * gps),
            "peak_memory_gib": torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--model", default="rrdb")
    ap.add_argument("--overrides", default="{}", help="JSON keyword arguments for build_model")
    ap.add_argument("--size", type=int, default=64, help="patch side (the paper: 64)")
    ap.add_argument("--batch", type=int, default=8, help="batch per confounder (the paper: 8)")
    ap.add_argument("--steps", type=int, default=30, help="timed steps per configuration (fewer if over its time)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--config-s", type=float, default=20.0, help="timed seconds per configuration at most")
    ap.add_argument("--deadline-s", type=float, default=420.0, help="skip what would start after this many seconds")
    ap.add_argument("--peak-tflops", type=float, default=989.0, help="dense bf16 peak of the device (H200: 989)")
    ap.add_argument("--only", nargs="+", default=None, help="configuration names to run (default all)")
    ap.add_argument("--json", default="gpu_throughput.json")
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    start = time.perf_counter()
    probe = build_model(args.model, **json.loads(args.overrides)).to(device)
    flop = flop_per_ge(probe, batches(1, args.batch, args.size, device)[0][0])
    del probe
    out: dict[str, Any] = {
        "command": " ".join(["python", *sys.argv]), "device": str(device),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor(),
        "torch": torch.__version__, "cpu_count": os.cpu_count(), "model": args.model, "overrides": args.overrides,
        "batch": args.batch, "size": args.size, "n_confounders": N_CONF, "flop_per_ge": flop,
        "peak_tflops": args.peak_tflops, "configs": [], "skipped": []}
    path = Path(args.json)
    for name, variant, options, mode in CONFIGS:
        if args.only and name not in args.only:
            continue
        if time.perf_counter() - start > args.deadline_s:
            out["skipped"].append({"name": name, "why": f"past the {args.deadline_s:g} s deadline"})
            continue
        try:
            rec = measure(name, variant, options, mode, args, device, args.config_s)
        except Exception as exc:  # a configuration this torch or device cannot run: recorded, not fatal
            out["skipped"].append({"name": name, "why": f"{type(exc).__name__}: {str(exc)[:300]}"})
            continue
        finally:
            if device.type == "cuda":
                torch.cuda.empty_cache()
        rec["mfu"] = rec["it_per_s"] * rec["ge_per_step"] * flop / (args.peak_tflops * 1e12)
        out["configs"].append(rec)
        print(f"{name:28s} {rec['it_per_s']:8.3f} it/s {rec['ms_per_ge']:9.2f} ms/ge  MFU {100 * rec['mfu']:6.2f}%  "
              f"peak {rec['peak_memory_gib'] if rec['peak_memory_gib'] is not None else float('nan'):.2f} GiB",
              flush=True)
        out["elapsed_s"] = time.perf_counter() - start
        path.write_text(json.dumps(out, indent=1))
    erm = next((c for c in out["configs"] if c["name"] == "erm fp32"), None)
    if erm is not None:
        out["ratios_to_erm_fp32_ms_per_ge"] = {c["name"]: c["ms_per_ge"] / erm["ms_per_ge"] for c in out["configs"]}
    out["elapsed_s"] = time.perf_counter() - start
    path.write_text(json.dumps(out, indent=1))
    print(f"wrote {path} in {out['elapsed_s']:.0f} s; skipped: {[s['name'] for s in out['skipped']]}")
    return out


if __name__ == "__main__":
    main()
