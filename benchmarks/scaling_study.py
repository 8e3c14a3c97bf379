"""Where does ERM fail on unseen noise levels, and does DIL (or a bias-free net) prevent it?

Denoising, AWGN sigma 5/10/15/20 in training; scored on a validation split held out of the
*training* images at sigma 10, 20 (seen) and 30, 40, 50 (unseen). ERM's failure at a cell of
the grid is ``ERM_oracle - ERM`` at sigma 50 (the oracle also trains on 30/40/50); a method
repairs it where its sigma-50 PSNR closes that gap. Nothing here is chosen on a test set.

Grid (profile ``cpu``): two architectures, each at three sizes, trained with a constant lr so
that the evaluation after k ge of a long run *is* the run of budget k (same data order, same
updates): the length axis costs nothing extra.

- ``dncnn``: residual DnCNN (predicts the noise), 39K / 225K / 1.0M parameters.
- ``rrdb``: the RRDB family (predicts the image, as the paper's network), 51K / 200K / 1.17M.

Phases, each resumable (every run checkpoints; rerun the same command to go on), ordered so
that the answer to "does DIL repair ERM's failure" comes first on a 2-core machine:

1. ERM, ERM_bf (every additive bias removed), ERM_oracle on the small cells (4,000 ge,
   evaluated every 250 ge: 250 ... 4,000 spans 16x).
2. At the small cell where ERM's failure at 4,000 ge is largest: DIL_sf with shared confounder
   content (the paper's counterfactual batches), DIL_sf with independent content (the authors'
   code), DIL_ps; seed 0.
3. Seed 1 at that cell: ERM, ERM_bf, ERM_oracle, DIL_sf, DIL_ps (DIL_sf with independent
   content joins the last phase).
4. ERM and ERM_oracle, then ERM_bf, on the medium cells (4,000 ge): the capacity axis.
5. In one pool, in this order: DIL_ps and DIL_sf at the medium cell with the largest failure
   (seed 0); ERM and ERM_oracle on the large cells (1,000 ge: the capacity axis at the shorter
   lengths); DIL_sf with independent content, seed 1, at the small cell of phase 2.

Outputs in ``--out`` (default runs/scaling-<profile>): ``scaling.json``, ``scaling.md`` and
``fig_scaling.png``, rewritten after every phase.

    python benchmarks/scaling_study.py --train-root ../shared/datasets/train/CBSD400
    python benchmarks/scaling_study.py --profile gpu --train-root DIR   # one GPU, about 8 min per method
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from dil_optim.training.reproduce import live, provenance
from dil_optim.training.reproduce.jobs import Job
from dil_optim.training.reproduce.runner import run_jobs
from dil_optim.training.reproduce.spec import Profile, TableSpec

logger = logging.getLogger("scaling_study")

SPEC = TableSpec(name="scaling", title="Scaling study (denoising, unseen noise levels)", kind="awgn",
                 level_key="sigma", train_levels=(5, 10, 15, 20), eval_levels=(10, 20, 30, 40, 50), datasets=())
UNSEEN = (30.0, 40.0, 50.0)
PROBE = 50.0  # the level ERM's failure is measured at


@dataclass(frozen=True)
class Cell:
    name: str
    arch: str  # "dncnn" (residual, predicts the noise) or "rrdb" (predicts the image)
    model: str
    overrides: tuple[tuple[str, object], ...]
    budget_ge: int
    evals: int
    size: str = "S"  # "S" (about 40-50K parameters), "M" (about 200K), "L" (about 1M)


def _cells(profile: str) -> list[Cell]:
    if profile == "gpu":  # larger nets and budgets for one H200-class GPU (not yet run; see docs/results.md)
        return [Cell("rrdb-L", "rrdb", "rrdb_small", (("num_feat", 64), ("num_block", 3), ("num_grow_ch", 32)),
                     50_000, 10, "S"),
                Cell("dncnn-L", "dncnn", "dncnn", (("depth", 17), ("width", 96)), 50_000, 10, "S")]  # all phases
    return [
        Cell("dncnn-S", "dncnn", "dncnn", (("depth", 6), ("width", 32)), 4000, 16),
        Cell("rrdb-S", "rrdb", "rrdb_small", (("num_feat", 16), ("num_block", 1), ("num_grow_ch", 8)), 4000, 16),
        Cell("dncnn-M", "dncnn", "dncnn", (("depth", 8), ("width", 64)), 4000, 16, "M"),
        Cell("rrdb-M", "rrdb", "rrdb_small", (("num_feat", 32), ("num_block", 1), ("num_grow_ch", 16)), 4000, 16, "M"),
        Cell("dncnn-L", "dncnn", "dncnn", (("depth", 14), ("width", 96)), 1000, 4, "L"),
        Cell("rrdb-L", "rrdb", "rrdb_small", (("num_feat", 48), ("num_block", 2), ("num_grow_ch", 32)), 1000, 4, "L"),
    ]


def _profile(cell: Cell, args: argparse.Namespace) -> Profile:
    gpu = args.profile == "gpu"
    return Profile(name=f"scaling-{args.profile}", model=cell.model, patch_size=48 if gpu else 32,
                   batch_size=8, budget_ge=cell.budget_ge, lr=args.lr, milestones=(), evals=cell.evals,
                   checkpoint_every_ge=max(250, cell.budget_ge // 8), workers=1, threads=None if gpu else 1,
                   val_images=args.val_images, val_crop=args.val_crop, model_overrides=cell.overrides,
                   # on a GPU: the speed options that keep fp32 numbers; bf16 waits for its PSNR effect to be measured
                   fast=("tf32", "channels_last", "fused") if gpu else ())


def _job(cell: Cell, method: str, seed: int, args: argparse.Namespace, device: str, content: str = "shared") -> Job:
    return Job(method, seed, _profile(cell, args), SPEC, SPEC.eval_levels, SPEC.train_levels, args.train_root,
               None, device, str(Path(args.out) / cell.name), True, content=content, group=cell.name)


def _mean(xs: list[float]) -> float:
    return statistics.fmean(xs) if xs else float("nan")


def _val_psnr(entry: dict[str, Any], levels: tuple[float, ...]) -> float:
    return _mean([r["psnr"] for r in entry["val"] if r["level"] in levels])


def _curves(rec: dict[str, Any], grid: float) -> list[dict[str, Any]]:
    """Per evaluation along a run: ge (the exact count, and rounded to the cell's evaluation grid
    of ``grid`` ge, where a DIL step of 4 or 5 ge lands beside ERM's), seen-level and
    per-unseen-level validation PSNR."""
    return [{"ge": int(round(e["ge"] / grid) * grid), "ge_exact": e["ge"], "seen": _val_psnr(e, SPEC.train_levels),
             **{f"s{v:g}": _val_psnr(e, (v,)) for v in UNSEEN}} for e in rec["history"] if e.get("val")]


def summarise(cells: list[Cell], records: dict[tuple[str, str, int], dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (cell, ge along training): each method's sigma-50 PSNR per seed, the failure
    (oracle - ERM) and each method's gain over ERM, on the validation split."""
    rows = []
    for cell in cells:
        recs = {k: v for k, v in records.items() if k[0] == cell.name}
        if not recs:
            continue
        params = {k[1]: v["params"] for k, v in recs.items()}
        curves = {k: {c["ge"]: c for c in _curves(v, cell.budget_ge / cell.evals)} for k, v in recs.items()}
        ges = sorted({ge for c in curves.values() for ge in c})
        for ge in ges:
            row: dict[str, Any] = {"cell": cell.name, "arch": cell.arch, "params": params.get("ERM"), "ge": ge,
                                   "params_by_method": params, "methods": {}}
            for (_, m, seed), c in curves.items():
                if ge in c:
                    row["methods"].setdefault(m, {})[seed] = c[ge]
            erm = row["methods"].get("ERM", {})
            for m, per in row["methods"].items():
                gains = [per[s][f"s{PROBE:g}"] - erm[s][f"s{PROBE:g}"] for s in per if s in erm]
                row.setdefault("gain_s50", {})[m] = {"mean": _mean(gains), "per_seed": gains}
            if "ERM_oracle" in row["methods"]:
                row["failure_s50"] = row["gain_s50"].get("ERM_oracle", {}).get("mean")
            rows.append(row)
    return rows


def write_outputs(out: Path, cells: list[Cell], records: dict[tuple[str, str, int], dict[str, Any]],
                  chosen: str | None, args: argparse.Namespace, wall: float) -> None:
    rows = summarise(cells, records)
    provenance.write_json(out / "scaling.json", {
        "command": provenance.command_line(None), "profile": args.profile, "lr": args.lr, "train_root": args.train_root,
        "val_images": args.val_images, "val_crop": args.val_crop, "train_levels": SPEC.train_levels,
        "val_levels": SPEC.eval_levels, "probe_level": PROBE, "chosen_cell": chosen, "wall_time_s": wall,
        "versions": provenance.versions(torch.device("cpu" if args.profile != "gpu" else "cuda")),
        "cells": [c.__dict__ for c in cells], "rows": rows,
        "runs": [{k: v for k, v in r.items() if k not in ("history", "final")} for r in records.values()],
    })
    _table(out / "scaling.md", rows, chosen, args, wall)
    _figure(out / "fig_scaling.png", rows)


def _fmt(per: dict[int, dict[str, float]], key: str) -> str:
    vals = [c[key] for c in per.values()]
    return f"{_mean(vals):.2f}" + (f" ±{(max(vals) - min(vals)) / 2:.2f}" if len(vals) > 1 else "")


def _table(path: Path, rows: list[dict[str, Any]], chosen: str | None, args: argparse.Namespace, wall: float) -> None:
    methods = ["ERM", "ERM_bf", "ERM_oracle", "DIL_sf", "DIL_sf-ind", "DIL_ps"]
    L = [f"# Scaling study ({args.profile} profile)", "",
         f"- Command: `{provenance.command_line(None)}`; wall time so far {wall / 60:.0f} min.",
         f"- Validation split: {args.val_images} images held out of the training images ({args.train_root or 'built-in'}),"
         f" centre {args.val_crop}x{args.val_crop}; seen sigma 10, 20; unseen 30, 40, 50. Constant Adam lr {args.lr:g}"
         " (outer = inner/virtual), L1, 32x32 patches, batch 8; ge = one forward + backward of a batch.",
         "- Cells: PSNR (dB) at sigma 50 on the validation split, mean over seeds (± half the range); "
         "seen = mean PSNR at sigma 10 and 20. failure = ERM_oracle - ERM at sigma 50. Rows: the full budget and "
         "its halvings (every evaluation is in scaling.json); a DIL step's 4-5 ge put its evaluations within a few "
         "ge of the row's count.",
         f"- DIL variants ran at the cell with the largest failure at its full budget: {chosen or 'not yet chosen'}.",
         "", "| cell | params | ge | ERM seen | " + " | ".join(f"{m} s50" for m in methods)
         + " | failure | DIL_sf - ERM | DIL_sf-ind - ERM | DIL_ps - ERM | ERM_bf - ERM |",
         "|" + "---|" * (5 + len(methods) + 4)]
    for r in rows:
        budget = max(x["ge"] for x in rows if x["cell"] == r["cell"])
        if budget % r["ge"] or (budget // r["ge"]) & (budget // r["ge"] - 1):  # lengths budget / 2^k only
            continue
        ms = r["methods"]
        cells = [_fmt(ms[m], f"s{PROBE:g}") if m in ms else "–" for m in methods]
        g = r.get("gain_s50", {})
        gain = lambda m: f"{g[m]['mean']:+.2f}" if m in g and g[m]["per_seed"] else "–"  # noqa: E731
        L.append(f"| {r['cell']} | {(r['params'] or 0) / 1e3:.0f}K | {r['ge']} | "
                 + (_fmt(ms["ERM"], "seen") if "ERM" in ms else "–") + " | " + " | ".join(cells)
                 + f" | {gain('ERM_oracle')} | {gain('DIL_sf')} | {gain('DIL_sf-ind')} | {gain('DIL_ps')} "
                 f"| {gain('ERM_bf')} |")
    path.write_text("\n".join(L) + "\n")


def _figure(path: Path, rows: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for arch, marker in (("dncnn", "o"), ("rrdb", "s")):
        for key, label in (("ERM_oracle", "oracle - ERM"), ("ERM_bf", "ERM_bf - ERM"), ("DIL_sf", "DIL_sf - ERM"),
                           ("DIL_ps", "DIL_ps - ERM")):
            # against parameters: each cell at its full budget
            pts = {}
            for r in rows:
                if r["arch"] == arch and key in r.get("gain_s50", {}) and r["gain_s50"][key]["per_seed"]:
                    pts[r["cell"]] = r
            full = [max((r for r in rows if r["cell"] == c and key in r.get("gain_s50", {})), key=lambda r: r["ge"])
                    for c in pts]
            if full:
                full.sort(key=lambda r: r["params"] or 0)
                xs = [r["params"] for r in full]
                ys = [r["gain_s50"][key]["mean"] for r in full]
                err = [[y - min(r["gain_s50"][key]["per_seed"]) for y, r in zip(ys, full)],
                       [max(r["gain_s50"][key]["per_seed"]) - y for y, r in zip(ys, full)]]
                a.errorbar(xs, ys, yerr=err, marker=marker, capsize=2, label=f"{arch}: {label}")
            # against ge: every cell's curve
            for cell in sorted({r["cell"] for r in rows if r["arch"] == arch}):
                cr = [r for r in rows if r["cell"] == cell and key in r.get("gain_s50", {})
                      and r["gain_s50"][key]["per_seed"]]
                if cr:
                    b.plot([r["ge"] for r in cr], [r["gain_s50"][key]["mean"] for r in cr], marker=marker, ms=3,
                           label=f"{cell}: {label}")
    for ax, xl in ((a, "parameters (each cell at its full budget)"), (b, "gradient evaluations (ge)")):
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlabel(xl)
        ax.set_ylabel("PSNR gain over ERM at sigma 50 (dB)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    fig.suptitle("Scaling study: ERM's failure (oracle - ERM) and what DIL / bias-free nets recover\n"
                 "validation split of the training images, seen sigma 5-20, probe sigma 50", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", choices=["cpu", "gpu"], default="cpu")
    ap.add_argument("--train-root", default=None, help="clean training images (default: the built-in photographs)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--lr", type=float, default=3e-4, help="constant Adam lr, fixed before any run (default 3e-4)")
    ap.add_argument("--val-images", type=int, default=16)
    ap.add_argument("--val-crop", type=int, default=96)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--phases", nargs="+", type=int, default=[1, 2, 3, 4, 5])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--cells", nargs="+", default=None, help="only these cells (default all of the profile)")
    ap.add_argument("--budget-ge", type=int, default=None, help="smoke runs: every cell's budget (2 evaluations)")
    ap.add_argument("--report-only", action="store_true",
                    help="write scaling.json/.md/.png from the records in --out, run nothing")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    device = "cuda" if args.device == "auto" and torch.cuda.is_available() else (
        "cpu" if args.device == "auto" else args.device)
    args.out = args.out or f"runs/scaling-{args.profile}"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cells = [c for c in _cells(args.profile) if args.cells is None or c.name in args.cells]
    if args.budget_ge:
        cells = [replace(c, budget_ge=args.budget_ge, evals=2) for c in cells]
    records: dict[tuple[str, str, int], dict[str, Any]] = {}
    workers = 1 if device != "cpu" else args.workers
    t0 = time.perf_counter()
    state_path = out / "state.json"
    chosen = json.loads(state_path.read_text())["chosen"] if state_path.is_file() else None

    def run(jobs: list[Job], keep_order: bool = False) -> None:
        if not jobs:
            return
        progress = live.Progress(jobs, "sigma", out / "log.txt")
        for job, rec in zip(jobs, run_jobs(jobs, workers, progress, keep_order)):
            records[(Path(job.out).name, rec["method"], rec["seed"])] = rec
        write_outputs(out, cells, records, chosen, args, time.perf_counter() - t0)

    cellmap = {c.name: c for c in cells}
    if chosen is not None and chosen not in cellmap:
        chosen = None
    small = [c for c in cells if c.size == "S"]
    medium = [c for c in cells if c.size == "M"]
    large = [c for c in cells if c.size == "L"]
    baselines = ("erm", "erm_bf", "erm_oracle")

    def failure(name: str, seed: int = 0) -> float | None:
        """ERM_oracle - ERM at the probe level, at the cell's full budget (None before both ran)."""
        if (name, "ERM_oracle", seed) not in records or (name, "ERM", seed) not in records:
            return None
        probe = lambda m: _mean([r["psnr"] for r in records[(name, m, seed)]["val_final"]  # noqa: E731
                                 if r["level"] == PROBE])
        return probe("ERM_oracle") - probe("ERM")

    if args.report_only:
        for path in sorted(out.glob("*/seed*/*/record.json")):
            rec = json.loads(path.read_text())
            if path.parts[-4] in cellmap:
                records[(path.parts[-4], rec["method"], rec["seed"])] = rec
        write_outputs(out, cells, records, chosen, args, sum(r["wall_time_s"] for r in records.values()))
        print(f"scaling: {out / 'scaling.md'} from {len(records)} runs")
        return
    if 1 in args.phases:
        run([_job(c, m, 0, args, device) for c in small for m in baselines])
    if chosen is None:
        score = {c.name: f for c in small if (f := failure(c.name)) is not None}
        if score:
            chosen = max(score, key=score.__getitem__)
            state_path.write_text(json.dumps({"chosen": chosen, "failure_s50": score}))
            logger.info("ERM's failure at sigma 50 (oracle - ERM) per small cell: %s; DIL runs at %s",
                        ", ".join(f"{k} {v:+.2f} dB" for k, v in score.items()), chosen)
    if 2 in args.phases and chosen:
        c = cellmap[chosen]
        run([_job(c, "sf", 0, args, device), _job(c, "sf", 0, args, device, "independent"),
             _job(c, "ps", 0, args, device)])
    if 3 in args.phases and chosen:
        c = cellmap[chosen]
        run([_job(c, m, 1, args, device) for m in (*baselines, "sf", "ps")])
    if 4 in args.phases:  # the failure (ERM, oracle) of every medium cell first, then the bias-free control
        run([_job(c, m, 0, args, device) for c in medium for m in ("erm", "erm_oracle")]
            + [_job(c, "erm_bf", 0, args, device) for c in medium])
    if 5 in args.phases:
        fails = {c.name: f for c in medium if (f := failure(c.name)) is not None}
        best = [cellmap[max(fails, key=fails.__getitem__)]] if fails else []
        run([_job(c, m, 0, args, device) for c in best for m in ("ps", "sf")]
            + [_job(c, m, 0, args, device) for c in large for m in ("erm", "erm_oracle")]
            + ([_job(cellmap[chosen], "sf", 1, args, device, "independent")] if chosen else []),
            keep_order=True)
    write_outputs(out, cells, records, chosen, args, time.perf_counter() - t0)
    print(f"scaling: {out / 'scaling.md'}, {out / 'scaling.json'}, {out / 'fig_scaling.png'}")


if __name__ == "__main__":
    main()
