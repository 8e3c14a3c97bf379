"""Overhead of ``DILWrapper.step()`` against hand-written loops and the authors' DIL_sf recipe.

For each variant (erm, sf, pf, ss, ps) on a small plain conv net, every configuration below is
stepped on the same fixed batches, interleaved (the order rotates every round, A/B/A/B), and
the median of the per-round ratios is reported, so that drift from other jobs on the machine
cancels:

- ``dil``: ``DILWrapper(...).step()``.
- ``hand``: a hand-written loop doing the same gradient evaluations (same maths; the script
  checks this: the parameters of ``dil`` and ``hand`` after the warm-up steps are reported).
- ``authors`` (sf only): the authors' code structure: a second model refreshed with
  ``load_state_dict`` each outer step, the inner optimizer's state round-tripped through
  ``state_dict``/``load_state_dict``, inner steps on the copy, meta-gradient written back.
- ``erm`` (ss/ps groups): a plain ERM step on the concatenated confounder batches, the
  denominator of "second-order step / ERM step".

Both clocks are recorded: wall (perf_counter) and, on CPU, this process's CPU time
(process_time); the table gives each ratio's median and the quartiles of the per-round ratios.
Fixed cost: the same configurations (same network) are also timed on 8x8 images at batch 1,
where the per-step bookkeeping is most of the time; dil - hand there, in ms, is the wrapper's
fixed cost per step, reported beside it as a share of the full-size hand-written step.

Peak memory (``benchmarks/peak_memory.py``): on CUDA the allocator's peak per configuration,
built alone after the shared data; on CPU each configuration runs in its own fresh process and
its anonymous memory plus one step's rise of the RSS high-water mark is counted.

    PYTHONPATH=. python benchmarks/overhead.py --threads 1 --json overhead.json
    PYTHONPATH=. python benchmarks/overhead.py --device cuda
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import peak_memory  # noqa: E402
from benchmarks.overhead_refs import Batch, build, conv_net, make_data  # noqa: E402
from benchmarks.peak_memory import sync as _sync  # noqa: E402

VARIANTS = ("erm", "sf", "pf", "ss", "ps")
GROUPS: dict[str, tuple[str, ...]] = {
    "erm": ("dil", "hand"), "sf": ("dil", "hand", "authors"), "pf": ("dil", "hand"),
    "ss": ("dil", "hand", "erm"), "ps": ("dil", "hand", "erm"),
}


# ----------------------------------------------------------------------------- measuring
def _max_param_diff(a: nn.Module, b: nn.Module) -> float:
    return max((p - q).abs().max().item() for p, q in zip(a.parameters(), b.parameters()))


def measure_times(variants: list[str], net: nn.Module, batches: list[Batch], query: Batch, *, repeats: int,
                  warmup: int, steps_per_sample: int, device: torch.device) -> dict[str, Any]:
    """Interleaved timing; returns per variant the per-round seconds per step of each configuration
    by two clocks, ``wall`` (perf_counter) and ``cpu`` (this process's CPU time, process_time),
    the maths check (max |param(dil) - param(other)| after the warm-up steps) and how far the
    parameters moved from their start (so that an empty step cannot pass the check)."""
    out: dict[str, Any] = {}
    built = {v: {k: build(v, k, net, batches, query) for k in GROUPS[v]} for v in variants}
    for v, cfgs in built.items():
        for _, step in cfgs.values():
            for _ in range(warmup):
                step()
        _sync(device)
        dil_model = cfgs["dil"][0]
        same = {k: _max_param_diff(dil_model, m) for k, (m, _) in cfgs.items() if k not in ("dil", "erm")}
        moved = _max_param_diff(dil_model, net)
        out[v] = {"wall": {k: [] for k in cfgs}, "cpu": {k: [] for k in cfgs}, "param_diff": same,
                  "param_moved": moved}
    for r in range(repeats):
        for v, cfgs in built.items():
            names = list(cfgs)
            for k in names[r % len(names):] + names[: r % len(names)]:
                step = cfgs[k][1]
                _sync(device)
                t0, c0 = time.perf_counter(), time.process_time()
                for _ in range(steps_per_sample):
                    step()
                _sync(device)
                out[v]["wall"][k].append((time.perf_counter() - t0) / steps_per_sample)
                out[v]["cpu"][k].append((time.process_time() - c0) / steps_per_sample)
    return out


def _one_config_memory(args: argparse.Namespace, item: str) -> dict[str, int]:
    """Peak RSS growth of one ``variant/kind`` configuration (:func:`peak_memory.rss_peak`)."""
    variant, kind = item.split("/")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cpu")
    torch.manual_seed(0)
    net = conv_net(args.channels).to(device)
    batches, query = make_data(args.confounders, args.batch, args.size, device, torch.float32)
    tb, tq = make_data(args.confounders, 1, 8, device, torch.float32)
    return peak_memory.rss_peak(lambda: build(variant, kind, conv_net(4), tb, tq),
                                lambda: build(variant, kind, net, batches, query), args.warmup)


def measure_memory(variants: list[str], args: argparse.Namespace, net: nn.Module, batches: list[Batch],
                   query: Batch, device: torch.device) -> dict[str, dict[str, int]]:
    """Peak bytes per configuration (CUDA: in process, one after the other; CPU: each in a fresh
    process forked from a helper that has only imported torch)."""
    canon = lambda v, k: "erm/hand" if k == "erm" or (v, k) == ("erm", "hand") else f"{v}/{k}"  # noqa: E731
    wanted = list(dict.fromkeys(canon(v, k) for v in variants for k in GROUPS[v]))  # plain ERM once
    if device.type == "cuda":
        peaks = {item: peak_memory.cuda_peak(lambda item=item: build(*item.split("/"), net, batches, query), device,
                                             args.warmup) for item in wanted}
    else:
        options = ["--size", str(args.size), "--batch", str(args.batch), "--channels", str(args.channels),
                   "--threads", str(args.threads), "--confounders", str(args.confounders), "--warmup", str(args.warmup)]
        got = peak_memory.measure_in_children(Path(__file__).resolve(), wanted, options)
        peaks = {item: int(m["peak"]) for item, m in got.items()}
    return {v: {k: peaks[canon(v, k)] for k in GROUPS[v]} for v in variants}


# ----------------------------------------------------------------------------- report
def summarise(times: dict[str, Any], memory: dict[str, dict[str, int]] | None, clock: str,
              small: dict[str, Any] | None = None) -> dict[str, Any]:
    """Median (over rounds) of the per-round ratios by ``clock`` ("wall" | "cpu"), median step
    times in ms, memory ratios; with ``small`` (the same configurations timed on 8x8 images,
    batch 1) the fixed cost per step: median per-round difference dil - other, in ms and as a
    share of the other's full-size step."""
    rows: dict[str, Any] = {}
    for v, rec in times.items():
        t = rec[clock]
        row: dict[str, Any] = {"ms": {k: 1e3 * statistics.median(x) for k, x in t.items()},
                               "param_diff": rec["param_diff"], "param_moved": rec["param_moved"], "quartiles": {}}
        pairs = [("dil", "hand")] + [("dil", "authors")] * ("authors" in t) + [("dil", "erm"), ("hand", "erm")] * ("erm" in t)
        for a, b in pairs:
            per_round = sorted(x / y for x, y in zip(t[a], t[b]))
            row[f"{a}/{b}"] = statistics.median(per_round)
            row["quartiles"][f"{a}/{b}"] = _quartiles(per_round)
        if small is not None:
            ts = small[v][clock]
            row["fixed_ms"] = {k: 1e3 * statistics.median(x - y for x, y in zip(ts["dil"], ts[k]))
                               for k in ts if k in ("hand", "authors")}
            row["fixed_share"] = {k: ms / row["ms"][k] for k, ms in row["fixed_ms"].items()}
        if memory is not None:
            m = memory[v]
            row["mem_mib"] = {k: b / 2**20 for k, b in m.items()}
            row["mem dil/hand"] = m["dil"] / m["hand"]
            if "authors" in m:
                row["mem dil/authors"] = m["dil"] / m["authors"]
            if "erm" in m:
                row["mem dil/erm"] = m["dil"] / m["erm"]
        rows[v] = row
    return rows


def _quartiles(xs: list[float]) -> tuple[float, float]:
    if len(xs) < 2:
        return (xs[0], xs[0])
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return (q[0], q[2])


def _verdict(r: dict[str, Any], key: str, limit: float, strict: bool = False) -> str:
    """'met' / 'MISSED' by the median; 'unclear' when the quartiles straddle the limit."""
    lo, hi = r["quartiles"][key]
    below = (lambda x: x < limit) if strict else (lambda x: x <= limit)
    if below(lo) != below(hi):
        return "unclear"
    return "met" if below(r[key]) else "MISSED"


def format_table(rows: dict[str, Any]) -> str:
    """Markdown: median of the per-round ratios (quartiles of the per-round ratios beneath)."""
    cols = ["dil ms", "hand ms", "dil/hand", "dil/authors", "dil/erm", "hand/erm",
            "mem dil/hand", "mem dil/authors", "mem dil/erm", "fixed ms vs hand", "target"]
    lines = ["| variant | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for v, r in rows.items():
        def f(key: str) -> str:
            if key not in r:
                return "-"
            q = r["quartiles"].get(key)
            return f"{r[key]:.3f}" + (f" ({q[0]:.2f}-{q[1]:.2f})" if q else "")
        if v in ("sf", "pf"):
            target = f"{_verdict(r, 'dil/hand', 1.05)} (<=1.05 x hand)"
            if "dil/authors" in r:
                target += f", {_verdict(r, 'dil/authors', 1.0, strict=True)} (<1 x authors)"
        elif v in ("ss", "ps"):
            target = f"{_verdict(r, 'dil/erm', 3.5)} (<=3.5 x ERM)"
        else:
            target = "-"
        fixed = "-"
        if "fixed_ms" in r:
            fixed = f"{r['fixed_ms']['hand']:+.2f} ({100 * r['fixed_share']['hand']:+.1f}%)"
        cells = [f"{r['ms']['dil']:.1f}", f"{r['ms']['hand']:.1f}"] + [f(c) for c in cols[2:-2]] + [fixed, target]
        lines.append(f"| {v} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run(args: argparse.Namespace, dtype: torch.dtype = torch.float32) -> dict[str, Any]:
    """Build the net and data, time (and unless ``args.no_memory``, measure memory), summarise."""
    device = torch.device(args.device)
    torch.backends.cudnn.benchmark = bool(args.cudnn_benchmark)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    net = conv_net(args.channels).to(device=device, dtype=dtype)
    batches, query = make_data(args.confounders, args.batch, args.size, device, dtype)
    variants = list(args.variants)
    k = args.steps_per_sample or (10 if device.type == "cuda" else 1)
    t0 = time.perf_counter()
    times = measure_times(variants, net, batches, query, repeats=args.repeats, warmup=args.warmup,
                          steps_per_sample=k, device=device)
    # The fixed cost: the same configurations (same parameters) on 8x8 images, batch 1, where
    # the convolutions cost little and the per-step bookkeeping is most of the time.
    small_b, small_q = make_data(args.confounders, 1, 8, device, dtype)
    small = measure_times(variants, net, small_b, small_q, repeats=args.repeats, warmup=args.warmup,
                          steps_per_sample=5 * k, device=device)
    t1 = time.perf_counter()
    memory = None if args.no_memory else measure_memory(variants, args, net, batches, query, device)
    phases = {"timing_s": t1 - t0, "memory_s": time.perf_counter() - t1}
    return {
        "rows": summarise(times, memory, "wall", small), "rows_cpu_time": summarise(times, memory, "cpu", small),
        "times": {v: {c: r[c] for c in ("wall", "cpu")} for v, r in times.items()},
        "times_8x8_batch1": {v: {c: r[c] for c in ("wall", "cpu")} for v, r in small.items()},
        "memory_bytes": memory, "phases": phases,
        "memory_method": None if memory is None else (
            "torch.cuda.max_memory_allocated, beyond the shared data" if device.type == "cuda" else
            "a fresh process per configuration (forked from a helper that only imported torch): after the warm-up steps the RSS high-water mark is reset "
            "(/proc/self/clear_refs) and one more step runs; peak = anonymous RSS (RssAnon) gained since just before the "
            "configuration was built (model, optimizer and wrapper state) + that step's VmHWM above the RSS before it; glibc "
            "MALLOC_MMAP_THRESHOLD_=131072 so that freed tensors leave the RSS"),
        "config": {"device": str(device), "device_name": torch.cuda.get_device_name(device) if device.type == "cuda"
                   else platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
                   "torch": torch.__version__, "threads": torch.get_num_threads(), "repeats": args.repeats,
                   "warmup": args.warmup, "steps_per_sample": k, "size": args.size, "batch": args.batch,
                   "channels": args.channels, "confounders": args.confounders, "dtype": str(dtype),
                   "cudnn_benchmark": bool(args.cudnn_benchmark)},
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--repeats", type=int, default=7, help="timed rounds (median of per-round ratios)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps per configuration first")
    p.add_argument("--steps-per-sample", type=int, default=0, help="steps per timed sample (0: 1 on CPU, 10 on CUDA)")
    p.add_argument("--size", type=int, default=48, help="patch side, pixels")
    p.add_argument("--batch", type=int, default=8, help="samples per confounder batch (and in the query batch)")
    p.add_argument("--confounders", type=int, default=4)
    p.add_argument("--channels", type=int, default=32)
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: leave torch's default)")
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurements")
    p.add_argument("--cudnn-benchmark", action="store_true", help="torch.backends.cudnn.benchmark = True")
    p.add_argument("--json", type=Path, default=None, help="also write every sample and the table here")
    p.add_argument("--child", nargs="+", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    for name in ("repeats", "size", "batch", "confounders", "channels"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child:
        peak_memory.serve(args.child, lambda item: _one_config_memory(args, item))
        return
    t0 = time.perf_counter()
    res = run(args)
    c = res["config"]
    print(f"torch {c['torch']} on {c['device']} ({c['device_name']}, {c['cpu_count']} CPUs, {c['threads']} threads); "
          f"{c['confounders']} confounders x batch {c['batch']} x 3 x {c['size']} x {c['size']}, "
          f"{c['channels']} channels; median of {c['repeats']} interleaved rounds")
    print("wall-clock time per step (perf_counter):")
    print(format_table(res["rows"]))
    if c["device"] == "cpu":
        print("CPU time of this process per step (process_time; less sensitive to other jobs on the cores):")
        print(format_table(res["rows_cpu_time"]))
    for v, r in res["rows"].items():
        diffs = ", ".join(f"{k} {d:.1e}" for k, d in r["param_diff"].items())
        print(f"{v}: max |param(dil) - param(ref)| after warm-up: {diffs} (params moved {r['param_moved']:.1e})")
    if res["memory_method"]:
        print(f"peak memory: {res['memory_method']}")
    ph = res["phases"]
    print(f"total {time.perf_counter() - t0:.0f} s (timing {ph['timing_s']:.0f} s, memory {ph['memory_s']:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
