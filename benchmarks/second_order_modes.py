"""Time and peak memory of DIL_ps / DIL_ss per ``second_order`` mode ("graph", "hvp", "vmap").

For each model (``conv``: the 6-layer plain conv net of benchmarks/overhead_refs.py; ``rrdb_small``
from ``dil_optim.models.build_model``) and each configuration (DIL_ps graph/hvp, DIL_ss
graph/hvp/vmap, and ERM on ONE confounder batch as the memory yardstick) on the same fixed
batches:

- time per step: the median over ``--repeats`` interleaved rounds (the order rotates each round)
  after ``--warmup`` untimed steps; wall clock (perf_counter) and, on CPU, process CPU time;
- peak memory: on CUDA ``torch.cuda.max_memory_allocated`` over two steps beyond what was
  allocated before the configuration was built; on CPU each configuration runs in a fresh
  process (forked from a helper that has only imported torch) with the RSS method of
  ``benchmarks/peak_memory.py`` (high-water mark reset through /proc/self/clear_refs, anonymous
  RSS gained since just before the configuration was built);
- the ratios of each mode to ``"graph"`` (time, memory) and DIL_ps's peak relative to the ERM
  step on one confounder batch; and the largest |p.grad(mode) - p.grad(graph)| after one step,
  so that a fast mode cannot be a wrong one.

    PYTHONPATH=. python benchmarks/second_order_modes.py --json docs/measurements/second_order_modes_cpu.json
    PYTHONPATH=. python benchmarks/second_order_modes.py --device cuda --size 64 --batch 8
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import peak_memory  # noqa: E402
from benchmarks.overhead_refs import Batch, conv_net, make_data  # noqa: E402
from benchmarks.peak_memory import sync as _sync  # noqa: E402
from dil_optim import DILWrapper  # noqa: E402
from dil_optim.models import build_model  # noqa: E402

MODELS = ("conv", "rrdb_small")
CONFIGS = ("erm1/graph", "ps/graph", "ps/hvp", "ss/graph", "ss/hvp", "ss/vmap")
Step = Callable[[], None]


def make_model(name: str, channels: int) -> nn.Module:
    """``conv``: overhead_refs.conv_net(channels); otherwise ``build_model(name)``."""
    return conv_net(channels) if name == "conv" else build_model(name)


def build(config: str, net: nn.Module, batches: list[Batch], query: Batch) -> tuple[nn.Module, Step]:
    """A fresh copy of ``net`` with its Adam and wrapper; ``erm1``: an ERM step on batches[0] only."""
    variant, mode = config.split("/")
    model = copy.deepcopy(net)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    if variant == "erm1":
        dil = DILWrapper(model, opt, nn.L1Loss(), "erm")
        return model, lambda: dil.step(batches[:1]) and None
    dil = DILWrapper(model, opt, nn.L1Loss(), variant, inner_lr=1e-4, second_order=mode)
    return model, lambda: dil.step(batches, query) and None


def grad_check(configs: list[str], net: nn.Module, batches: list[Batch], query: Batch) -> dict[str, float]:
    """max |p.grad(mode) - p.grad(graph)| after one step from the same weights."""
    grads = {}
    for c in configs:
        model, step = build(c, net, batches, query)
        step()
        grads[c] = [p.grad.detach().clone() for p in model.parameters()]
    out = {}
    for c in configs:
        ref = grads.get(c.split("/")[0] + "/graph")
        if ref is not None and not c.endswith("/graph"):
            out[c] = max((a - b).abs().max().item() for a, b in zip(grads[c], ref))
    return out


def measure_times(configs: list[str], net: nn.Module, batches: list[Batch], query: Batch, *, repeats: int,
                  warmup: int, device: torch.device) -> dict[str, dict[str, list[float]]]:
    """Seconds per step of each configuration per round, by wall clock and process CPU time."""
    built = {c: build(c, net, batches, query)[1] for c in configs}
    for step in built.values():
        for _ in range(warmup):
            step()
    out = {c: {"wall": [], "cpu": []} for c in configs}
    for r in range(repeats):
        for c in configs[r % len(configs):] + configs[: r % len(configs)]:
            _sync(device)
            t0, c0 = time.perf_counter(), time.process_time()
            built[c]()
            _sync(device)
            out[c]["wall"].append(time.perf_counter() - t0)
            out[c]["cpu"].append(time.process_time() - c0)
    return out


def _cpu_peak(args: argparse.Namespace, item: str) -> dict[str, int]:
    """Peak RSS growth of one ``model:config`` (:func:`peak_memory.rss_peak`)."""
    model_name, config = item.split(":")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    net = make_model(model_name, args.channels)
    batches, query = make_data(args.confounders, args.batch, args.size, torch.device("cpu"), torch.float32)
    tb, tq = make_data(args.confounders, 1, 8, torch.device("cpu"), torch.float32)
    tiny_net = make_model(model_name, 4) if model_name == "conv" else net
    return peak_memory.rss_peak(lambda: build(config, tiny_net, tb, tq), lambda: build(config, net, batches, query),
                                args.warmup)


def measure_memory(args: argparse.Namespace, model_name: str, configs: list[str], net: nn.Module,
                   batches: list[Batch], query: Batch, device: torch.device) -> dict[str, int]:
    if device.type == "cuda":
        return {c: peak_memory.cuda_peak(lambda c=c: build(c, net, batches, query), device, args.warmup)
                for c in configs}
    options = ["--size", str(args.size), "--batch", str(args.batch), "--channels", str(args.channels),
               "--threads", str(args.threads), "--confounders", str(args.confounders), "--warmup", str(args.warmup)]
    got = peak_memory.measure_in_children(Path(__file__).resolve(), [f"{model_name}:{c}" for c in configs], options)
    return {item.split(":")[1]: int(m["peak"]) for item, m in got.items()}


def summarise(times: dict[str, Any], memory: dict[str, int] | None) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for c, t in times.items():
        ref = c.split("/")[0] + "/graph"
        row = {"ms": 1e3 * statistics.median(t["wall"]), "cpu_ms": 1e3 * statistics.median(t["cpu"])}
        if ref in times:
            row["time/graph"] = statistics.median(a / b for a, b in zip(t["wall"], times[ref]["wall"]))
        if memory is not None:
            row["peak_mib"] = memory[c] / 2**20
            # a ratio to a peak below one page (tiny sizes: the RSS method reads 0) is not a measurement
            if memory.get(ref, 0) > 0:
                row["mem/graph"] = memory[c] / memory[ref]
            if memory.get("erm1/graph", 0) > 0 and c != "erm1/graph":
                row["mem/erm_one_batch"] = memory[c] / memory["erm1/graph"]
        rows[c] = row
    return rows


def format_table(model_name: str, rows: dict[str, Any]) -> str:
    lines = [f"{model_name}:", "| config | ms/step | time / graph | peak MiB | mem / graph | mem / ERM(1 batch) |",
             "|---|---|---|---|---|---|"]
    f = lambda r, k, fmt: format(r[k], fmt) if k in r else "-"  # noqa: E731
    for c, r in rows.items():
        lines.append(f"| {c} | {r['ms']:.0f} | {f(r, 'time/graph', '.2f')} | {f(r, 'peak_mib', '.1f')} | "
                     f"{f(r, 'mem/graph', '.2f')} | {f(r, 'mem/erm_one_batch', '.2f')} |")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> dict[str, Any]:
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    out: dict[str, Any] = {"models": {}}
    for model_name in args.models:
        torch.manual_seed(0)
        net = make_model(model_name, args.channels).to(device)
        batches, query = make_data(args.confounders, args.batch, args.size, device, torch.float32)
        configs = list(CONFIGS)
        t0 = time.perf_counter()
        times = measure_times(configs, net, batches, query, repeats=args.repeats, warmup=args.warmup, device=device)
        t1 = time.perf_counter()
        memory = None if args.no_memory else measure_memory(args, model_name, configs, net, batches, query, device)
        t2 = time.perf_counter()
        diffs = grad_check(configs, net, batches, query)
        out["models"][model_name] = {
            "rows": summarise(times, memory), "times": times, "memory_bytes": memory,
            "max_grad_diff_vs_graph_float32": diffs, "params": sum(p.numel() for p in net.parameters()),
            "phases_s": {"timing": t1 - t0, "memory": t2 - t1},
        }
    out["config"] = {
        "device": str(device), "device_name": torch.cuda.get_device_name(device) if device.type == "cuda"
        else platform.processor() or platform.machine(), "cpu_count": os.cpu_count(), "torch": torch.__version__,
        "threads": torch.get_num_threads(), "repeats": args.repeats, "warmup": args.warmup, "size": args.size,
        "batch": args.batch, "confounders": args.confounders, "conv_channels": args.channels, "dtype": "float32",
        "command": " ".join(["python", "benchmarks/second_order_modes.py", *sys.argv[1:]]),
    }
    out["memory_method"] = None if args.no_memory else (
        "torch.cuda.max_memory_allocated over two steps beyond the memory allocated before the configuration"
        if device.type == "cuda" else
        "fresh process per configuration (benchmarks/overhead.py's method): anonymous RSS gained since just before "
        "the configuration was built + one step's rise of the RSS high-water mark; MALLOC_MMAP_THRESHOLD_=131072")
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N]")
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--repeats", type=int, default=3, help="timed rounds (median)")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps per configuration first")
    p.add_argument("--size", type=int, default=32, help="patch side, pixels")
    p.add_argument("--batch", type=int, default=4, help="samples per confounder batch (and in the query batch)")
    p.add_argument("--confounders", type=int, default=4)
    p.add_argument("--channels", type=int, default=32, help="width of the conv net")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (see docs/variants.md on CPU threads)")
    p.add_argument("--no-memory", action="store_true")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--child", nargs="+", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    for name in ("repeats", "size", "batch", "confounders", "channels", "threads"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        p.error("--device cuda: no CUDA device is available")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child:
        peak_memory.serve(args.child, lambda item: _cpu_peak(args, item))
        return
    t0 = time.perf_counter()
    res = run(args)
    c = res["config"]
    print(f"torch {c['torch']} on {c['device']} ({c['device_name']}, {c['threads']} threads); {c['confounders']} "
          f"confounders x batch {c['batch']} x 3 x {c['size']} x {c['size']}; median of {c['repeats']} rounds")
    for name, m in res["models"].items():
        print(format_table(f"{name} ({m['params']} parameters)", m["rows"]))
        diffs = {k: f"{v:.1e}" for k, v in m["max_grad_diff_vs_graph_float32"].items()}
        print("max |grad - grad(graph)| (float32):", diffs)
    print(f"total {time.perf_counter() - t0:.0f} s")
    if args.json:
        tmp = args.json.with_suffix(args.json.suffix + ".tmp")
        tmp.write_text(json.dumps(res, indent=1))
        os.replace(tmp, args.json)


if __name__ == "__main__":
    main()
