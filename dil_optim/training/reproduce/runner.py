"""What every reproduction table shares: the jobs of a run, running them, the report (the command
line is :mod:`.arguments`).

A table (:mod:`dil_optim.training.reproduce.tables`) holds only a :class:`TableSpec`;
:func:`main` turns it and the command line into :class:`~.jobs.Job` values (one per seed,
method and grid lr), runs them (:mod:`.jobs`; in worker processes on CPU, :mod:`.pool`),
chooses each method's lr on the validation split at the seen levels where a grid is given,
and hands the records to :mod:`.report`, which writes ``results.json``, the table and the
figure. Compute is counted in gradient evaluations (ge: one forward + backward pass of a
batch of B patches; :func:`dil_optim.training.train.ge_per_step`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from ..evaluation import Evaluator
from ..launch import init_distributed
from . import announce, live, pictures, pool, provenance, report
from .arguments import parse_args, resolve_profile
from .jobs import Job, run_job, test_sets
from .spec import METHODS, PROFILES, Backbone, Profile, TableSpec

__all__ = [
    "Profile",
    "PROFILES",
    "TableSpec",
    "METHODS",
    "Job",
    "run_jobs",
    "select_lr",
    "main",
]

logger = logging.getLogger("dil_optim.training.reproduce")

# wall time per ge relative to ERM (dncnn, 32x32 patches, one CPU thread): orders the jobs, longest first
_COST = {"erm": 1.0, "erm_bf": 1.0, "erm_oracle": 1.0, "sf": 0.9, "pf": 0.95, "ss": 1.25, "ps": 2.8}


def run_jobs(jobs: list[Job], workers: int, progress: Any, keep_order: bool = False) -> list[dict[str, Any]]:
    """Run the jobs, longest first (throughput runs, or ``keep_order``: in the given order, so a
    cut-off run still reports the first), in ``workers`` spawned processes, 1: in this process."""
    order = list(range(len(jobs)))
    if jobs and not jobs[0].throughput and not keep_order:
        order.sort(key=lambda i: -_COST[jobs[i].method] * jobs[i].steps * jobs[i].ge_per_step)
    if workers <= 1:
        done = {i: run_job(jobs[i], progress) for i in order}
    else:
        done = dict(zip(order, pool.run_parallel(run_job, [jobs[i] for i in order], workers, progress)))
    return [done[i] for i in range(len(jobs))]


def expand_backbones(jobs: list[Job], backbones: list[Backbone]) -> list[Job]:
    """Each job once per backbone (backbone first, so a backbone's methods sit together in the
    table): the backbone's label prefixes the method's, its model replaces the profile's. The
    profile's ``model_overrides`` belong to the profile's own model: they go with it only."""
    out = []
    for b in backbones:
        for j in jobs:
            p = j.profile
            model = b.model_for(p.name, p.model)
            out.append(
                replace(
                    j,
                    backbone=b.label,
                    profile=replace(p, model=model, model_overrides=p.model_overrides if model == p.model else ()),
                    train_levels=tuple(float(v) for v in b.train_levels) or j.train_levels,
                )
            )
    return out if backbones else jobs


def select_lr(records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Per method (label), the grid lr with the best mean seen-level validation PSNR over seeds.

    Returns the records of the chosen lr (the table's rows) and, per method, the choice and
    every grid point's score. Records without a grid (one lr per method) pass through.
    """
    by_method: dict[str, dict[float, list[dict[str, Any]]]] = {}
    for r in records:
        by_method.setdefault(r["method"], {}).setdefault(r["lr"], []).append(r)
    chosen, grid = [], {}
    for m, per_lr in by_method.items():
        if len(per_lr) == 1:
            chosen += next(iter(per_lr.values()))
            continue
        score = {lr: sum(r["val_seen_psnr"] for r in rs) / len(rs) for lr, rs in per_lr.items()}
        best = max(score, key=lambda lr: (score[lr], -lr))
        grid[m] = {"chosen_lr": best, "val_seen_psnr": {f"{lr:g}": v for lr, v in score.items()}}
        chosen += per_lr[best]
    return chosen, grid


def main(spec: TableSpec, argv: list[str] | None = None, prog: str | None = None) -> Path:
    """Run a table end to end; returns the output folder."""
    args = parse_args(spec, argv, prog)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rank, world, local_rank = init_distributed(args.device)
    device = torch.device(
        "cuda"
        if args.device == "auto" and torch.cuda.is_available()
        else ("cpu" if args.device == "auto" else args.device)
    )
    if world > 1:  # torchrun: every method trains data-parallel over the processes, one job at a time
        device = torch.device("cuda", local_rank or 0) if device.type == "cuda" else device
        args.workers = 1
    grid = tuple(dict.fromkeys(args.lr_grid)) if args.lr_grid else (None,)
    backbones = [b for b in spec.backbones if b.label in getattr(args, "backbones", ())]
    profile = resolve_profile(
        args, device, len(args.methods) * len(args.seed) * len(grid) * max(1, len(backbones)), spec
    )
    spec = replace(spec, datasets=tuple(args.sets))
    out = Path(args.out or f"runs/{spec.name}-{profile.name}")
    out.mkdir(parents=True, exist_ok=True)
    jobs = [
        Job(
            m,
            seed,
            profile,
            spec,
            tuple(args.levels),
            tuple(args.train_levels),
            args.train_root,
            args.data_root,
            str(device),
            str(out),
            args.resume,
            args.max_steps,
            args.throughput_only,
            args.content,
            lr,
            rank=rank,
            world=world,
        )
        for seed in args.seed
        for m in args.methods
        for lr in grid
    ]
    jobs = expand_backbones(jobs, backbones)
    logger.info(
        "%s, profile %s: %s, %dx%d patches, batch %d, %d ge per method (%s), lr %s; %d job(s) on %s, "
        "%d process(es) x %s thread(s); output %s",
        spec.title,
        profile.name,
        ", ".join(dict.fromkeys(j.profile.model for j in jobs)) or profile.model,
        profile.patch_size,
        profile.patch_size,
        profile.batch_size,
        profile.budget_ge,
        profile.compute,
        " ".join(f"{v:g}" for v in profile.lr_grid) if profile.lr_grid else f"{profile.lr:g}",
        len(jobs),
        device,
        profile.workers,
        profile.threads or torch.get_num_threads(),
        out,
    )
    sets: Any = []
    absent: list[str] = []
    if not args.throughput_only:
        sets, absent = test_sets(spec.datasets, args.data_root, profile.eval_images, profile.eval_crop)
        announce.announce_sets(sets, absent, spec.datasets, out / "log.txt")
    t0 = time.perf_counter()
    progress = live.Progress(jobs, spec.level_key, out / "log.txt") if rank == 0 else None
    records = run_jobs(jobs, profile.workers, progress)
    total = time.perf_counter() - t0
    if world > 1:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()
        if rank != 0:  # rank 0 writes the reports
            return out
    if args.throughput_only:
        path = provenance.write_throughput(out, records, profile, device, argv)
        for r in records:
            print(
                f"{r['method']:7s} {r['it_per_s']:8.3f} it/s  {r['ge_per_s']:8.2f} ge/s  "
                f"({r['ge_per_step']} ge per step, {r['steps']} steps)"
            )
        print(f"throughput: {path}")
        return out
    chosen, lr_choice = select_lr(records)
    evaluator = Evaluator(sets, spec.kind, tuple(args.levels), "cpu", spec.channel)
    paths = report.write_all(
        out,
        spec,
        profile,
        jobs,
        chosen,
        evaluator(None),
        sets,
        absent,
        total,
        device,
        argv,
        all_records=records,
        lr_choice=lr_choice,
    )
    unseen = [v for v in args.levels if not spec.is_seen(v, tuple(args.train_levels))]
    if unseen and sets:
        by_run = {(j.label, j.seed, j.run_lr): j for j in jobs}
        crops = pictures.write_crops(
            out / f"{spec.figure}_crops.png",
            [by_run[(r["method"], r["seed"], r["lr"])] for r in chosen],
            chosen,
            sets,
            evaluator,
            max(unseen),
            spec.level_key,
        )
        if crops is not None:
            paths["crops"] = crops
    for label, path in paths.items():
        print(f"{label}: {path}")
    return out
