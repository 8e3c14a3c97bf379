"""Real-ESRGAN confounder synthesis: batched (default) against per-sample processing, and its share of a step.

In one run, interleaved (so a loaded machine slows both alike), process CPU time of
generating one quick-profile step's Real-ESRGAN confounders (``realesrgan_confounders(order)``:
4 confounders x ``--batch`` clean patches of ``4 * --lr-patch`` pixels) with

* ``per_sample=True``: every sample draws its own resize factors, modes, noise type and
  step order and is processed alone (this package's behaviour before);
* ``per_sample=False`` (default now): one draw of those per batch, as the authors' code, and
  batched processing;

and the CPU time of the training step they feed, for two nets on the low-resolution patches:
``augment_throughput.py``'s yardstick (6-layer DnCNN with a x4 pixel-shuffle tail, one update per
confounder) and the Table 5/7 quick-profile backbone (``rrdb_small`` with ``scale=4``). Prints
the ratios; timings on a shared machine move, the ratios measured in one run are what to quote.

    python benchmarks/realesrgan_speed.py                    # 1 thread, 8 x 48^2 LR patches, 10 repeats
    python benchmarks/realesrgan_speed.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import dil_optim.augment as A  # noqa: E402
from dil_optim.models import build_model  # noqa: E402


def cpu_time(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    t = time.process_time()
    for _ in range(repeats):
        fn()
    return (time.process_time() - t) / repeats


def main(argv: list[str] | None = None) -> dict[str, object]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=8, help="clean patches per confounder")
    ap.add_argument("--lr-patch", type=int, default=48, help="low-resolution patch side (clean: 4x)")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds (the means are reported)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    from augment_throughput import SmallNet, clean_patches

    clean = clean_patches(args.batch, 4 * args.lr_patch)
    nets = {"dncnn_x4 (augment_throughput yardstick)": SmallNet(True),
            "rrdb_small x4 (Table 5/7 quick profile)": build_model("rrdb_small", scale=4)}
    result: dict[str, object] = {"args": {k: str(v) for k, v in vars(args).items()}, "orders": {}}
    for order in (1, 2):
        sets = {per: A.ConfounderSet([A.RealESRGANDegradation(order, 4, per_sample=per, name=c.name, **c.options)
                                      for c in A.realesrgan_confounders(order, 4)]) for per in (True, False)}
        times: dict[str, list[float]] = {"per_sample": [], "batched": []}
        steps: dict[str, list[float]] = {k: [] for k in nets}
        pairs = sets[False](clean, torch.Generator().manual_seed(0))
        for rnd in range(args.rounds):
            for per, key in ((True, "per_sample"), (False, "batched")):
                g = torch.Generator().manual_seed(100 + rnd)
                times[key].append(cpu_time(lambda cs=sets[per], g=g: cs(clean, g), args.repeats))
            for name, net in nets.items():
                opt = torch.optim.Adam(net.parameters(), 1e-4)

                def step(net: torch.nn.Module = net, opt: torch.optim.Optimizer = opt,
                         pairs: list[tuple[torch.Tensor, torch.Tensor]] = pairs) -> None:
                    for deg, tgt in pairs:  # one update per confounder: a DIL_sf step's compute
                        opt.zero_grad(set_to_none=True)
                        torch.nn.functional.l1_loss(net(deg), tgt).backward()
                        opt.step()

                steps[name].append(cpu_time(step, max(2, args.repeats // 3)))
        mean = {k: sum(v) / len(v) for k, v in times.items()}
        row: dict[str, object] = {"per_sample_ms": 1e3 * mean["per_sample"], "batched_ms": 1e3 * mean["batched"],
                                  "speedup": mean["per_sample"] / mean["batched"], "steps": {}}
        print(f"order {order}: confounders per step, per-sample {1e3 * mean['per_sample']:.0f} ms, batched "
              f"{1e3 * mean['batched']:.0f} ms CPU: {mean['per_sample'] / mean['batched']:.2f}x")
        for name, v in steps.items():
            s = sum(v) / len(v)
            share = {k: 100 * m / s for k, m in mean.items()}
            row["steps"][name] = {"step_ms": 1e3 * s, "share_per_sample_pct": share["per_sample"],  # type: ignore[index]
                                  "share_batched_pct": share["batched"]}
            print(f"    step {name}: {1e3 * s:.0f} ms CPU; synthesis share per-sample {share['per_sample']:.0f} %, "
                  f"batched {share['batched']:.0f} %")
        result["orders"][order] = row  # type: ignore[index]
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
