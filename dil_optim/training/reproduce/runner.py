"""What every reproduction table shares: profiles, training jobs, the command line.

A table script (``reproduce_table1.py``, ...) holds only a :class:`TableSpec` and calls
:func:`main`. For each seed and method the runner trains one model with
:func:`dil_optim.training.train.train` under an equal compute budget (gradient evaluations, ge: one
forward + backward pass of a batch of B patches; see :func:`dil_optim.training.train.ge_per_step`),
evaluates it along the way and at the end on the test sets with noise seeded per image (every
method sees identical noisy test images; :mod:`dil_optim.training.evaluation`), and hands the records
to :mod:`dil_optim.training.reproduce.report`, which writes ``results.json``, the table and the figure. Jobs run
in worker processes (:mod:`dil_optim.training.reproduce.pool`) on CPU, in this process on a GPU.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dil_optim import DILWrapper
from dil_optim.augment import ConfounderSet
from dil_optim.data import PatchSampler
from dil_optim.training.evaluation import DEGRADATIONS, Evaluator, load_test_sets, train_images
from dil_optim.models import build_model
from dil_optim.training.train import ConfounderBatchSource, batch_mode, ge_per_step, train

from . import pool, report

logger = logging.getLogger("dil_optim.training.reproduce.runner")

METHODS = {"erm": "ERM", "sf": "DIL_sf", "pf": "DIL_pf", "ss": "DIL_ss", "ps": "DIL_ps"}
# wall time per ge relative to ERM (dncnn, 32x32 patches, one CPU thread): orders the jobs, longest first
_COST = {"erm": 1.0, "sf": 0.9, "pf": 0.95, "ss": 1.25, "ps": 2.8}


@dataclass(frozen=True)
class Profile:
    """Backbone, schedule and evaluation of one scale of the experiment.

    budget_ge: gradient evaluations per method (every method gets the same); each method's
        outer steps are ``budget_ge // ge_per_step``. lr: outer (and inner/virtual) learning
        rate, multiplied by ``gamma`` at the fractions ``milestones`` of each method's steps.
    eval_images / eval_crop: evaluate on the first K images of each set / their centre
        ``crop`` x ``crop`` (None: all images, whole). evals: evaluations along training.
    """

    name: str
    model: str
    patch_size: int
    batch_size: int
    budget_ge: int
    lr: float
    milestones: tuple[float, ...] = (0.5, 0.75)
    gamma: float = 0.5
    eval_images: int | None = None
    eval_crop: int | None = None
    evals: int = 1
    checkpoint_every_ge: int = 20_000
    workers: int = 1
    threads: int | None = None


PROFILES = {
    # supplementary Sec. 11.1: RRDB 64/23/32, 64x64 patches, batch 8, Adam 1e-4 halved at 200K/300K
    # of 400K iterations, L1. 400K iterations of batch 8 = 400K ge: ERM runs exactly that schedule.
    "paper": Profile("paper", "rrdb", 64, 8, 400_000, 1e-4, evals=4, checkpoint_every_ge=20_000),
    # chosen by measurement on a 2-core CPU, see docs/results.md
    # (workers=0: one process per job up to the CPU count; on 2 cores, 2 processes x 1 thread)
    "quick": Profile("quick", "dncnn", 32, 8, 3_000, 1e-4, eval_images=8, eval_crop=192, evals=4,
                     checkpoint_every_ge=500, workers=0),
}


@dataclass(frozen=True)
class TableSpec:
    """One table of the paper: its distortion family, levels, test sets and published numbers."""

    name: str  # file stem of the table, e.g. "table1"
    title: str
    kind: str  # key of DEGRADATIONS
    level_key: str  # "sigma"
    train_levels: tuple[float, ...]
    eval_levels: tuple[float, ...]
    datasets: tuple[str, ...]
    paper: dict[tuple[str, float], dict[str, tuple[float, float, float | None]]] = field(default_factory=dict)
    figure: str = "fig1"


@dataclass(frozen=True)
class Job:
    """One (seed, method) run; plain data so it crosses process boundaries."""

    method: str
    seed: int
    profile: Profile
    spec: TableSpec
    levels: tuple[float, ...]
    train_levels: tuple[float, ...]
    train_root: str | None
    data_root: str | None
    device: str
    out: str
    resume: bool
    max_steps: int | None = None
    throughput: bool = False

    @property
    def label(self) -> str:
        return METHODS[self.method]

    @property
    def ge_per_step(self) -> int:
        return ge_per_step(self.method, len(self.train_levels))

    @property
    def steps(self) -> int:
        steps = self.profile.budget_ge // self.ge_per_step
        return min(steps, self.max_steps) if self.max_steps else steps

    def config(self) -> dict[str, Any]:
        keep = ("method", "seed", "levels", "train_levels", "train_root", "data_root", "max_steps")
        profile = {k: v for k, v in asdict(self.profile).items() if k != "workers"}  # no effect on the numbers
        return {**{k: getattr(self, k) for k in keep}, "profile": profile, "steps": self.steps}


_SETS: dict[tuple[Any, ...], Any] = {}


def _test_sets(names: tuple[str, ...], data_root: str | None, images: int | None, crop: int | None) -> Any:
    """:func:`load_test_sets`, decoded once per process."""
    key = (names, data_root, images, crop)
    return _SETS[key] if key in _SETS else _SETS.setdefault(key, load_test_sets(*key))


def _differences(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for k in sorted(set(a) | set(b)):
        x, y = a.get(k), b.get(k)
        if isinstance(x, dict) and isinstance(y, dict):
            out += _differences(x, y, f"{prefix}{k}.")
        elif x != y:
            out.append(f"{prefix}{k}: saved {x!r}, now {y!r}")
    return out


class ConfigGuard:
    """Saved in each checkpoint; on resume, refuses one written with another configuration."""

    def __init__(self, config: dict[str, Any], where: Path) -> None:
        self.config, self.where = config, where

    def check(self, saved: dict[str, Any]) -> None:
        diff = _differences(saved, self.config)
        if diff:
            raise ValueError(f"--resume: {self.where} was written with another configuration ({'; '.join(diff)}); "
                             "rerun without --resume to start over, or give another --out")

    def state_dict(self) -> dict[str, Any]:
        return {"json": json.dumps(self.config)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.check(json.loads(state["json"]))


class History:
    """The evaluations made along one training run (saved in its checkpoints)."""

    def __init__(self) -> None:
        self.evals: list[dict[str, Any]] = []

    def state_dict(self) -> dict[str, Any]:
        return {"json": json.dumps(self.evals)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.evals = json.loads(state["json"])


def _sync(device: torch.device) -> Any:
    return torch.cuda.synchronize if device.type == "cuda" else None


def build_job(job: Job) -> tuple[DILWrapper, ConfounderBatchSource, Any]:
    """Model (same initial weights for every method of a seed), optimizers, batches, scheduler."""
    p, device = job.profile, torch.device(job.device)
    torch.manual_seed(job.seed)
    model = build_model(p.model).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=p.lr, betas=(0.9, 0.999))
    dil = DILWrapper(model, opt, nn.L1Loss(), job.method, inner_lr=p.lr,
                     generator=torch.Generator().manual_seed(1000 + job.seed))
    sampler = PatchSampler(train_images(job.train_root), p.patch_size, p.batch_size,
                           generator=torch.Generator().manual_seed(2000 + job.seed), device=device)
    cs = ConfounderSet([DEGRADATIONS[job.spec.kind](v) for v in job.train_levels])
    source = ConfounderBatchSource(sampler, cs, batch_mode(job.method),
                                   generator=torch.Generator().manual_seed(3000 + job.seed))
    milestones = sorted({max(1, round(f * job.steps)) for f in p.milestones})
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=milestones, gamma=p.gamma)
    return dil, source, sched


def run_job(job: Job, progress: Any = None) -> dict[str, Any]:
    """Train (or resume) one method for one seed, evaluate it; returns its record."""
    if job.profile.threads:
        torch.set_num_threads(job.profile.threads)
    send = progress.put if progress is not None else (lambda msg: None)
    if job.throughput:  # touches no checkpoint or record
        return _throughput(job, *build_job(job), send)
    name, device = METHODS[job.method], torch.device(job.device)
    folder = Path(job.out) / f"seed{job.seed}" / name
    folder.mkdir(parents=True, exist_ok=True)
    record_path, ckpt = folder / "record.json", folder / "checkpoint.pt"
    config = json.loads(json.dumps(job.config()))  # as it reads back from JSON (tuples become lists)
    if job.resume and record_path.is_file():
        record = json.loads(record_path.read_text())
        ConfigGuard(config, record_path).check(record["config"])
        send(("done", name, job.seed, job.steps, record))
        return record
    if not job.resume:
        for f in (record_path, ckpt):
            f.unlink(missing_ok=True)
    dil, source, sched = build_job(job)

    sets, _ = _test_sets(job.spec.datasets, job.data_root, job.profile.eval_images, job.profile.eval_crop)
    evaluator = Evaluator(sets, job.spec.kind, job.levels, job.device)
    history, steps = History(), job.steps
    at = {max(1, round(steps * i / job.profile.evals)) for i in range(1, job.profile.evals + 1)}
    every = max(1, job.profile.checkpoint_every_ge // job.ge_per_step)
    eval_time = [0.0]

    def callback(step: int, stats: Any) -> None:
        send(("step", name, job.seed, step, steps, stats.outer_loss))
        if step in at and not any(e["step"] == step for e in history.evals):
            t0 = time.perf_counter()
            rows = evaluator(dil.model)
            eval_time[0] += time.perf_counter() - t0
            history.evals.append({"step": step, "ge": step * job.ge_per_step, "rows": rows})
            send(("eval", name, job.seed, step, steps, job.ge_per_step, rows))

    res = train(dil, source, steps=steps, scheduler=sched, checkpoint_path=ckpt, checkpoint_every=every,
                resume=job.resume, callback=callback, sync=_sync(device),
                stateful={"history": history, "config": ConfigGuard(config, ckpt)})
    if res.interrupted:  # SIGTERM/SIGINT: train() wrote a checkpoint at this step; --resume goes on
        raise KeyboardInterrupt(f"{name} seed {job.seed} stopped at step {res.step} of {steps}; checkpoint {ckpt}")
    final = next(e for e in history.evals if e["step"] == steps)
    record = {
        "method": name, "variant": job.method, "seed": job.seed, "config": config, "steps": steps,
        "ge_per_step": job.ge_per_step, "ge": steps * job.ge_per_step, "wall_time_s": res.wall_time_s,
        "eval_time_s": eval_time[0], "resumed_from": res.resumed_from,
        "params": sum(p.numel() for p in dil.model.parameters()),
        "final_loss": res.losses[-1] if res.losses else None, "history": history.evals, "final": final["rows"],
    }
    report.write_json(record_path, record)
    send(("done", name, job.seed, steps, record))
    return record


def _throughput(job: Job, dil: DILWrapper, source: Any, sched: Any, send: Any) -> dict[str, Any]:
    device = torch.device(job.device)
    n = job.max_steps or 20
    train(dil, source, steps=1, sync=_sync(device))  # warm-up: allocator, kernels, autotuning
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    res = train(dil, source, steps=n, scheduler=sched, sync=_sync(device),
                callback=lambda s, st: send(("step", METHODS[job.method], job.seed, s, n, st.outer_loss)))
    rec = {"method": METHODS[job.method], "model": job.profile.model, "steps": n, "ge_per_step": job.ge_per_step,
           "params": sum(p.numel() for p in dil.model.parameters()),
           "wall_time_s": res.wall_time_s, "it_per_s": n / res.wall_time_s,
           "ge_per_s": n * job.ge_per_step / res.wall_time_s,
           "peak_memory_gib": torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None}
    send(("done", rec["method"], job.seed, n, rec))
    return rec


# ---------------------------------------------------------------------------- command line
def parse_args(spec: TableSpec, argv: list[str] | None = None, prog: str | None = None) -> argparse.Namespace:
    key = spec.level_key
    ap = argparse.ArgumentParser(prog=prog, description=f"Reproduce {spec.title}. Quick CPU profile by default.")
    ap.add_argument("--profile", choices=sorted(PROFILES), default="quick")
    ap.add_argument("--methods", nargs="+", default=list(METHODS), metavar="M",
                    help="erm sf pf ss ps (or ERM DIL_sf ...); default all five")
    ap.add_argument(f"--{key}s", dest="levels", nargs="+", type=float, default=[float(v) for v in spec.eval_levels],
                    help=f"test {key} values (default {' '.join(f'{v:g}' for v in spec.eval_levels)})")
    ap.add_argument(f"--train-{key}s", dest="train_levels", nargs="+", type=float,
                    default=[float(v) for v in spec.train_levels], help="training confounder levels")
    ap.add_argument("--seed", nargs="+", type=int, default=[0], help="one or more seeds (run one after another)")
    ap.add_argument("--data-root", default=None, help="folder holding the test sets (CBSD68/, McMaster/, ...)")
    ap.add_argument("--train-root", default=None, help="folder of clean training images (default: built-in)")
    ap.add_argument("--out", default=None, help="output folder (default runs/<table>-<profile>)")
    ap.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda, cuda:1, ...")
    ap.add_argument("--resume", action="store_true", help="continue a killed run in --out to the same numbers")
    g = ap.add_argument_group("overrides of the profile")
    g.add_argument("--model", default=None, help="backbone name for dil_optim.models.build_model")
    g.add_argument("--budget-ge", type=int, default=None, help="gradient evaluations per method")
    g.add_argument("--max-steps", type=int, default=None, help="cap on outer steps per method (breaks equal compute)")
    g.add_argument("--patch-size", type=int, default=None)
    g.add_argument("--batch-size", type=int, default=None)
    g.add_argument("--lr", type=float, default=None)
    g.add_argument("--eval-images", type=int, default=None, help="first K images per test set (0: all)")
    g.add_argument("--eval-crop", type=int, default=None, help="centre crop side for evaluation (0: whole)")
    g.add_argument("--evals", type=int, default=None, help="evaluations along training (the last is the table's)")
    g.add_argument("--checkpoint-every-ge", type=int, default=None, help="checkpoint interval in ge")
    g.add_argument("--workers", type=int, default=None,
                   help="processes on CPU (default: one per job, up to the CPU count)")
    g.add_argument("--threads", type=int, default=None, help="torch threads per process")
    ap.add_argument("--throughput-only", action="store_true",
                    help="train --max-steps (default 20) steps per method after one warm-up step, "
                         "print it/s, write throughput.json; no evaluation")
    args = ap.parse_args(argv)
    aliases = {**{k: k for k in METHODS}, **{v.lower(): k for k, v in METHODS.items()}}
    bad = [m for m in args.methods if m.lower() not in aliases]
    if bad:
        ap.error(f"unknown method(s) {bad}; choose from {', '.join(METHODS)} or {', '.join(METHODS.values())}")
    args.methods = list(dict.fromkeys(aliases[m.lower()] for m in args.methods))
    for name in ("budget_ge", "max_steps", "patch_size", "batch_size", "evals", "workers", "threads",
                 "checkpoint_every_ge"):
        v = getattr(args, name)
        if v is not None and v < 1:
            ap.error(f"--{name.replace('_', '-')} must be >= 1, got {v}")
    return args


def resolve_profile(args: argparse.Namespace, device: torch.device, n_jobs: int) -> Profile:
    """The profile with the command line's overrides; ``workers=0`` becomes one process per job
    up to the CPU count, each with an equal share of the cores (one process on a GPU)."""
    p = PROFILES[args.profile]
    names = ("model", "budget_ge", "patch_size", "batch_size", "lr", "evals", "workers", "threads",
             "checkpoint_every_ge")
    over: dict[str, Any] = {k: getattr(args, k) for k in names if getattr(args, k)}
    for k in ("eval_images", "eval_crop"):
        if getattr(args, k) is not None:
            over[k] = getattr(args, k) or None
    p = replace(p, **over)
    if device.type != "cpu":
        return replace(p, workers=1, threads=p.threads if p.workers == 1 else None)
    if p.workers == 0:
        cpus = os.cpu_count() or 1
        workers = max(1, min(n_jobs, cpus))
        p = replace(p, workers=workers, threads=p.threads or max(1, cpus // workers))
    return p


def run_jobs(jobs: list[Job], workers: int, progress: report.Progress) -> list[dict[str, Any]]:
    """Run the jobs, longest first (throughput runs: in the given order, so a cut-off run still
    reports the first), in ``workers`` spawned processes, 1: in this process."""
    order = list(range(len(jobs)))
    if jobs and not jobs[0].throughput:
        order.sort(key=lambda i: -_COST[jobs[i].method] * jobs[i].steps * jobs[i].ge_per_step)
    if workers <= 1:
        done = {i: run_job(jobs[i], progress) for i in order}
    else:
        done = dict(zip(order, pool.run_parallel(run_job, [jobs[i] for i in order], workers, progress)))
    return [done[i] for i in range(len(jobs))]


def main(spec: TableSpec, argv: list[str] | None = None, prog: str | None = None) -> Path:
    """Run a table end to end; returns the output folder."""
    args = parse_args(spec, argv, prog)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise SystemExit("multi-GPU training (torchrun) is not wired into the runner yet: run on one device")
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    profile = resolve_profile(args, device, len(args.methods) * len(args.seed))
    out = Path(args.out or f"runs/{spec.name}-{profile.name}")
    out.mkdir(parents=True, exist_ok=True)
    jobs = [Job(m, seed, profile, spec, tuple(args.levels), tuple(args.train_levels), args.train_root,
                args.data_root, str(device), str(out), args.resume, args.max_steps, args.throughput_only)
            for seed in args.seed for m in args.methods]
    logger.info("%s, profile %s: %s, %dx%d patches, batch %d, %d ge per method, lr %g; %d job(s) on %s, "
                "%d process(es) x %s thread(s); output %s", spec.title, profile.name, profile.model,
                profile.patch_size, profile.patch_size, profile.batch_size, profile.budget_ge, profile.lr,
                len(jobs), device, profile.workers, profile.threads or torch.get_num_threads(), out)
    if not args.throughput_only:
        sets, absent = _test_sets(spec.datasets, args.data_root, profile.eval_images, profile.eval_crop)
        logger.info("test sets: %s%s", ", ".join(f"{n} ({i['files']} images)" for n, _, i in sets),
                    f"; absent, skipped: {', '.join(absent)}" if absent else "")
    t0 = time.perf_counter()
    progress = report.Progress(jobs, spec.level_key, out / "log.txt")
    records = run_jobs(jobs, profile.workers, progress)
    total = time.perf_counter() - t0
    if args.throughput_only:
        path = report.write_throughput(out, records, profile, device, argv)
        for r in records:
            print(f"{r['method']:7s} {r['it_per_s']:8.3f} it/s  {r['ge_per_s']:8.2f} ge/s  "
                  f"({r['ge_per_step']} ge per step, {r['steps']} steps)")
        print(f"throughput: {path}")
        return out
    inputs = Evaluator(sets, spec.kind, tuple(args.levels), "cpu")(None)
    paths = report.write_all(out, spec, profile, jobs, records, inputs, sets, absent, total, device, argv)
    for label, path in paths.items():
        print(f"{label}: {path}")
    return out
