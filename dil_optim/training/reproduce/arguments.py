"""The command line every reproduction table shares (:func:`parse_args`) and the profile it
resolves to (:func:`resolve_profile`: the table's profile, its overrides, then the options)."""

from __future__ import annotations

import argparse
import math
import os
from dataclasses import replace
from typing import Any

import torch

from ..fast import FAST_OPTIONS, check_fast_options
from .spec import METHODS, PROFILES, Profile, TableSpec

__all__ = ["parse_args", "resolve_profile"]


def _positive_float(text: str) -> float:
    v = float(text)
    if not math.isfinite(v) or v <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite positive number, got {text}")
    return v


def parse_args(spec: TableSpec, argv: list[str] | None = None, prog: str | None = None) -> argparse.Namespace:
    key = spec.level_key
    ap = argparse.ArgumentParser(prog=prog, description=f"Reproduce {spec.title}. Quick CPU profile by default.")
    ap.add_argument("--profile", choices=sorted(PROFILES), default="quick")
    ap.add_argument(
        "--methods",
        nargs="+",
        default=list(spec.methods),
        metavar="M",
        help=f"{' '.join(METHODS)} (or ERM DIL_sf ...); default {' '.join(spec.methods)}. erm_bf: "
        "ERM without additive biases; erm_oracle: ERM that also trains on the unseen levels",
    )
    names = f" or a name: {', '.join(spec.level_names.values())}" if spec.level_names else ""
    ap.add_argument(
        f"--{key}s",
        dest="levels",
        nargs="+",
        type=spec.parse_level,
        default=[float(v) for v in spec.eval_levels],
        help=f"test {key} values{names} (default {' '.join(spec.level_label(v) for v in spec.eval_levels)})",
    )
    ap.add_argument(
        f"--train-{key}s",
        dest="train_levels",
        nargs="+",
        type=spec.parse_level,
        default=[float(v) for v in spec.train_levels],
        help="training confounder levels",
    )
    if spec.backbones:
        ap.add_argument(
            "--backbones",
            nargs="+",
            default=[b.label for b in spec.backbones],
            choices=[b.label for b in spec.backbones],
            metavar="B",
            help=f"the backbones to train, each with every method (default all: "
            f"{' '.join(b.label for b in spec.backbones)})",
        )
    ap.add_argument(
        "--sets",
        nargs="+",
        default=list(spec.datasets),
        metavar="NAME",
        help=f"test sets (default the paper's: {' '.join(spec.datasets) or 'none'})",
    )
    ap.add_argument("--seed", nargs="+", type=int, default=[0], help="one or more seeds (run one after another)")
    ap.add_argument("--data-root", default=None, help="folder holding the test sets (CBSD68/, McMaster/, ...)")
    ap.add_argument("--train-root", default=None, help="folder of clean training images (default: built-in)")
    ap.add_argument("--out", default=None, help="output folder (default runs/<table>-<profile>)")
    ap.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda, cuda:1, ...")
    ap.add_argument("--resume", action="store_true", help="continue a killed run in --out to the same numbers")
    ap.add_argument(
        "--content",
        choices=["shared", "independent"],
        default="shared",
        help="DIL confounder batches: one clean batch degraded n ways (shared, the paper's "
        "counterfactual augmentation) or a clean batch each (independent, the authors' code)",
    )
    g = ap.add_argument_group("overrides of the profile")
    g.add_argument("--model", default=None, help="backbone name for dil_optim.models.build_model")
    g.add_argument(
        "--compute",
        choices=["equal-ge", "equal-steps"],
        default=None,
        help="equal-ge (default): every method gets --budget-ge gradient evaluations; equal-steps: "
        "every method takes as many outer steps as ERM does within --budget-ge",
    )
    g.add_argument("--budget-ge", type=int, default=None, help="gradient evaluations per method")
    g.add_argument("--max-steps", type=int, default=None, help="cap on outer steps per method (breaks equal compute)")
    g.add_argument("--patch-size", type=int, default=None)
    g.add_argument("--batch-size", type=int, default=None)
    g.add_argument("--lr", type=_positive_float, default=None, help="outer lr (the inner/virtual lr is tied to it)")
    g.add_argument(
        "--lr-grid",
        type=_positive_float,
        nargs="+",
        default=None,
        metavar="LR",
        help="train each method once per lr and report the one with the best seen-level PSNR on the "
        "validation split (needs --val-images)",
    )
    g.add_argument(
        "--val-images", type=int, default=None, help="training images held out as the validation split (0: none)"
    )
    g.add_argument("--val-crop", type=int, default=None, help="centre crop side of the validation images (0: whole)")
    g.add_argument("--eval-images", type=int, default=None, help="first K images per test set (0: all)")
    g.add_argument("--eval-crop", type=int, default=None, help="centre crop side for evaluation (0: whole)")
    g.add_argument("--evals", type=int, default=None, help="evaluations along training (the last is the table's)")
    g.add_argument("--checkpoint-every-ge", type=int, default=None, help="checkpoint interval in ge")
    g.add_argument(
        "--workers", type=int, default=None, help="processes on CPU (default: one per job, up to the CPU count)"
    )
    g.add_argument("--threads", type=int, default=None, help="torch threads per process")
    g.add_argument(
        "--fast",
        nargs="+",
        default=None,
        choices=FAST_OPTIONS,
        metavar="OPT",
        help=f"speed options ({', '.join(FAST_OPTIONS)}; see dil_optim.training.fast); default none",
    )
    ap.add_argument(
        "--throughput-only",
        action="store_true",
        help="train --max-steps (default 20) steps per method after one warm-up step, "
        "print it/s, write throughput.json; no evaluation",
    )
    args = ap.parse_args(argv)
    aliases = {**{k: k for k in METHODS}, **{v.lower(): k for k, v in METHODS.items()}}
    bad = [m for m in args.methods if m.lower() not in aliases]
    if bad:
        ap.error(f"unknown method(s) {bad}; choose from {', '.join(METHODS)} or {', '.join(METHODS.values())}")
    args.methods = list(dict.fromkeys(aliases[m.lower()] for m in args.methods))
    for name in (
        "budget_ge",
        "max_steps",
        "patch_size",
        "batch_size",
        "evals",
        "workers",
        "threads",
        "checkpoint_every_ge",
    ):
        v = getattr(args, name)
        if v is not None and v < 1:
            ap.error(f"--{name.replace('_', '-')} must be >= 1, got {v}")
    for name in ("val_images", "val_crop", "eval_images", "eval_crop"):
        v = getattr(args, name)
        if v is not None and v < 0:
            ap.error(f"--{name.replace('_', '-')} must be >= 0, got {v}")
    if args.lr_grid and not (args.val_images or spec.profile(PROFILES[args.profile]).val_images):
        ap.error("--lr-grid chooses on the validation split: give --val-images K (K >= 1)")
    if spec.backbones and args.model:
        ap.error(
            f"--model: this table trains its backbones ({', '.join(b.label for b in spec.backbones)}); "
            "choose among them with --backbones"
        )
    if "erm_oracle" in args.methods and all(spec.is_seen(v, tuple(args.train_levels)) for v in args.levels):
        ap.error("erm_oracle trains on the unseen test levels, and every test level is a training level")
    return args


def resolve_profile(
    args: argparse.Namespace, device: torch.device, n_jobs: int, spec: TableSpec | None = None
) -> Profile:
    """The profile with the table's overrides (``spec.profiles``), then the command line's;
    ``workers=0`` becomes one process per job up to the CPU count, each with an equal share of
    the cores (one process on a GPU)."""
    p = spec.profile(PROFILES[args.profile]) if spec is not None else PROFILES[args.profile]
    names = (
        "model",
        "budget_ge",
        "patch_size",
        "batch_size",
        "lr",
        "evals",
        "workers",
        "threads",
        "checkpoint_every_ge",
        "compute",
    )
    over: dict[str, Any] = {k: getattr(args, k) for k in names if getattr(args, k)}
    for k in ("eval_images", "eval_crop", "val_crop"):
        if getattr(args, k) is not None:
            over[k] = getattr(args, k) or None
    if args.val_images is not None:
        over["val_images"] = args.val_images
    if args.fast:
        over["fast"] = check_fast_options(args.fast)
    if args.lr_grid:
        over["lr_grid"] = tuple(dict.fromkeys(args.lr_grid))
    p = replace(p, **over)
    if device.type != "cpu":
        return replace(p, workers=1, threads=p.threads if p.workers == 1 else None)
    if p.workers == 0:
        cpus = os.cpu_count() or 1
        workers = max(1, min(n_jobs, cpus))
        p = replace(p, workers=workers, threads=p.threads or max(1, cpus // workers))
    return p
