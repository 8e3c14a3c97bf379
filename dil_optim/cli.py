"""``dil-optim``: train from a TOML configuration, evaluate a checkpoint, reproduce a table.

dil-optim train --config run.toml [--resume]
torchrun --nproc-per-node 4 -m dil_optim.cli train --config run.toml
dil-optim eval --checkpoint runs/x/checkpoint.pt --set CBSD68 --sigma 50 [--data-root DIR]
dil-optim reproduce table1 --profile quick [table options...]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

import torch

from .training.preflight import UsageError

__all__ = ["main", "UsageError"]

logger = logging.getLogger("dil_optim.cli")


def _device(name: str, local_rank: int | None) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise UsageError(f"device {name!r} is not a device; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and local_rank is not None:
        device = torch.device("cuda", local_rank)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f'device {name!r} requested but CUDA is not available; use device "cpu" or "auto"')
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise UsageError(
            f"device {name!r}: this machine has {torch.cuda.device_count()} CUDA device(s); "
            'use cuda:0 .. cuda:N-1 or "auto"'
        )
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise UsageError(f'device {name!r} requested but MPS is not available; use device "cpu" or "auto"')
    return device


class _ConfigState:
    """Carries the run configuration inside every checkpoint (for ``dil-optim eval`` and resume).

    On resume the checkpoint's configuration is not taken back: the new one (already checked to
    differ only in keys of :data:`~dil_optim.training.preflight.SAFE_ON_RESUME`) stays, and
    ``pending`` (those changes) is appended to the record ``config["resume_history"]``.
    """

    def __init__(self, config: dict[str, Any], pending: list[dict[str, Any]] | None = None) -> None:
        self.config = config
        self.history: list[dict[str, Any]] = []
        self.pending = list(pending or [])

    def state_dict(self) -> dict[str, Any]:
        return {**self.config, "resume_history": self.history}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history = [*state.get("resume_history", []), *self.pending]
        self.pending = []


def _init_distributed(device_name: str) -> tuple[int, int, int | None]:
    """(rank, world size, local rank) from torchrun's environment; initialises the group."""
    from .training.launch import init_distributed

    return init_distributed(device_name)


def cmd_train(args: argparse.Namespace) -> int:
    """``dil-optim train``: every user error is found before the first step (:class:`UsageError`)."""
    from .augment import paper_confounders
    from .core.wrapper import DILWrapper
    from .data import ImageFolder, PatchSampler, builtin_images
    from .models import build_model
    from .training import preflight
    from .training.checkpoint import CheckpointError
    from .training.config import ConfigError, load_config
    from .training.progress import Progress, format_duration
    from .training.train import ConfounderBatchSource, batch_mode, load_checkpoint, train

    try:
        cfg = load_config(args.config)
    except (ConfigError, FileNotFoundError) as exc:
        raise UsageError(str(exc)) from None
    if cfg.task in ("realsr", "realsr2") and cfg.model.overrides.get("scale", 1) != 4:
        raise UsageError(
            f"task {cfg.task!r} maps x4 low-resolution inputs to high-resolution targets; "
            "set [model] overrides = { scale = 4 }"
        )
    t, d = cfg.train, cfg.dil
    _device(t.device, None)  # a bad or absent device is found before torch.distributed starts
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank_env = int(os.environ.get("RANK", "0"))
    out = preflight.check_output_dir(cfg.output.dir)
    ckpt = out / ("checkpoint.pt" if world <= 1 else f"checkpoint-rank{rank_env}.pt")
    preflight.check_checkpoint_target(ckpt, resume=args.resume, overwrite=args.overwrite)
    pending: list[dict[str, Any]] = []
    start = 0  # the step this session starts from
    if args.resume:
        try:
            previous = load_checkpoint(ckpt)
        except (FileNotFoundError, CheckpointError, ValueError) as exc:
            raise UsageError(f"cannot resume: {exc}") from None
        old = previous.get("extra", {}).get("config")
        if not isinstance(old, dict):
            raise UsageError(
                f"cannot resume: {ckpt} carries no run configuration (not written by dil-optim "
                "train); use --overwrite to start a new run there"
            )
        unsafe, safe = preflight.config_changes(old, cfg.to_dict())
        if unsafe:
            raise UsageError(
                f"cannot resume {ckpt}: the configuration changed in {', '.join(unsafe)} "
                f"({preflight.describe_changes(unsafe)}); restore those values, or --overwrite to "
                f"start over (safe to change: {', '.join(preflight.SAFE_ON_RESUME)})"
            )
        if int(previous["step"]) > t.steps:
            raise UsageError(
                f"cannot resume: {ckpt} is at step {previous['step']}, past train.steps = {t.steps}; "
                f"set train.steps >= {previous['step']}"
            )
        if safe:
            logger.info("resuming with changed %s", preflight.describe_changes(safe))
            pending = [{"step": int(previous["step"]), "key": k, "old": a, "new": b} for k, (a, b) in safe.items()]
        start = int(previous["step"])
        del previous
    try:
        images = ImageFolder(cfg.data.train_root, recursive=True) if cfg.data.train_root else builtin_images("train")
    except ImportError as exc:
        raise UsageError(f"{exc}; or set [data] train_root to a folder of clean training images") from None
    except (FileNotFoundError, ValueError) as exc:
        raise UsageError(f"data.train_root: {exc}; set [data] train_root to a folder of clean images") from None
    try:
        PatchSampler(images, t.patch_size, t.batch_size, seed=t.seed)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"training images: {exc}; lower train.patch_size or add larger images") from None
    try:
        build_model(cfg.model.name, **cfg.model.overrides)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"model.overrides: {exc}") from None

    rank, world, local_rank = _init_distributed(t.device)
    device = _device(t.device, local_rank)
    torch.manual_seed(t.seed)  # the same initial weights on every rank
    model = build_model(cfg.model.name, **cfg.model.overrides).to(device)
    net: torch.nn.Module = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    optimizer = torch.optim.Adam(model.parameters(), lr=t.lr)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=t.milestones, gamma=t.gamma)
    precision = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[t.precision]
    if precision == torch.float16 and device.type != "cuda":
        raise UsageError(f'train.precision = "fp16" needs a CUDA device, this run is on {device}; use "bf16" or "fp32"')
    scaler = torch.amp.GradScaler(device.type) if precision == torch.float16 else None
    try:
        dil = DILWrapper(
            net,
            optimizer,
            torch.nn.L1Loss(),
            d.variant,
            inner_lr=d.inner_lr,
            inner_steps=d.inner_steps,
            backend=d.backend,
            virtual_step=d.virtual_step,
            second_order=d.second_order,
            ddp_mode=d.ddp_mode,
            generator=torch.Generator().manual_seed(t.seed),
            autocast_dtype=precision,
            grad_scaler=scaler,
        )
    except (ImportError, TypeError, ValueError) as exc:
        raise UsageError(f"[dil]: {exc}") from None
    sampler = PatchSampler(images, t.patch_size, t.batch_size, seed=t.seed + 1000 * rank, device=device)
    confounders, _ = paper_confounders(cfg.task)
    source = ConfounderBatchSource(sampler, confounders, batch_mode(d.variant), seed=t.seed + 1000 * rank + 1)

    bar = Progress(
        t.steps,
        "train",
        logger,
        done=start,
        unit="step",
        bar=None if rank == 0 else False,
        every_s=30.0 if rank == 0 else float("inf"),
    )

    def log(step: int, stats: Any) -> None:
        if rank == 0:
            bar.update(step, loss=f"{stats.outer_loss:.5f}", lr=f"{optimizer.param_groups[0]['lr']:.3g}")

    try:
        result = train(
            dil,
            source,
            steps=t.steps,
            scheduler=scheduler,
            checkpoint_path=ckpt,
            checkpoint_every=t.checkpoint_every,
            resume=args.resume,
            callback=log,
            stateful={"config": _ConfigState(cfg.to_dict(), pending)},
        )
    except (CheckpointError, ValueError) as exc:  # a checkpoint that does not fit this run: touch nothing
        raise UsageError(f"cannot resume: {exc}") from None
    elapsed = bar.close()
    if rank == 0 and result.interrupted:
        logger.info("interrupted at step %d of %d; continue with --resume (checkpoint: %s)", result.step, t.steps, ckpt)
    elif rank == 0:
        logger.info(
            "trained steps %d-%d of %d in %s (%s of it in training steps over all sessions); checkpoint: %s",
            (result.resumed_from or 0) + 1,
            result.step,
            t.steps,
            format_duration(elapsed),
            format_duration(result.wall_time_s),
            ckpt,
        )
    if world > 1:
        import torch.distributed as dist

        dist.destroy_process_group()
    return 0


_FAMILY = {"denoise": "awgn", "deblur": "blur"}


def cmd_eval(args: argparse.Namespace) -> int:
    import math

    from .models import build_model
    from .training.checkpoint import CheckpointError
    from .training.evaluation import Evaluator, load_test_sets
    from .training.train import load_checkpoint

    bad = [s for s in args.sigma if not (math.isfinite(s) and s >= 0)]
    if bad:
        raise UsageError(
            f"--sigma {bad[0]:g}: a level must be a finite number >= 0 (AWGN sigma on the 0-255 scale, "
            "or blur sigma in pixels)"
        )
    if args.images is not None and args.images < 1:
        raise UsageError(f"--images {args.images}: give a positive number of images per set, or leave it out")
    device = _device(args.device, None)
    try:
        state = load_checkpoint(args.checkpoint)
    except (FileNotFoundError, CheckpointError, ValueError) as exc:
        raise UsageError(f"{exc}; pass the checkpoint.pt that dil-optim train wrote") from None
    config = state.get("extra", {}).get("config")
    if not isinstance(config, dict):
        raise UsageError(
            f"{args.checkpoint} carries no run configuration (not written by dil-optim train); "
            "pass the checkpoint.pt that dil-optim train wrote"
        )
    family = _FAMILY.get(config["task"])
    if family is None:
        raise UsageError(f"dil-optim eval scores denoising and deblurring runs; this run's task is {config['task']!r}")
    model = build_model(config["model"]["name"], **config["model"]["overrides"])
    model.load_state_dict(state["model"])
    model.to(device)
    sets, absent = load_test_sets(tuple(args.set), args.data_root, args.images, None)
    if absent:
        raise UsageError(
            f"test set(s) not found or not verified: {', '.join(absent)} (see the log above); "
            "fetch them with python -m dil_optim.data.downloader NAME --data-root DIR, or pass "
            "--data-root / set $DIL_OPTIM_DATA"
        )
    rows = Evaluator(sets, family, tuple(args.sigma), str(device))(model)
    label = "sigma" if family == "awgn" else "blur sigma"
    for r in rows:
        print(
            f"{r['dataset']:10s} {label} {r['level']:g}: PSNR {r['psnr']:.2f} dB  SSIM {r['ssim']:.4f}  "
            f"({len(r['psnr_per_image'])} images, step {state['step']}, {config['dil']['variant']})"
        )
    return 0


def cmd_reproduce(table: str, rest: list[str]) -> int:
    """Run one of the paper's tables (:mod:`dil_optim.training.reproduce`) with the remaining options."""
    from .training.reproduce.runner import main as run_table
    from .training.reproduce.tables import TABLES

    run_table(TABLES[table], rest, prog=f"dil-optim reproduce {table}")
    return 0


def _reproduce_help() -> str:
    from .training.reproduce.runner import PROFILES
    from .training.reproduce.tables import TABLES

    lines = ["tables (dil-optim reproduce TABLE --help lists a table's options):"]
    lines += [f"  {name:8s} {spec.title}" for name, spec in TABLES.items()]
    lines += ["profiles (--profile NAME):"]
    lines += [
        f"  {p.name:8s} {p.model}, {p.patch_size}x{p.patch_size} patches, batch {p.batch_size}, "
        f"{p.budget_ge:,} ge per method"
        for p in PROFILES.values()
    ]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="dil-optim", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="command", required=True)
    tr = sub.add_parser("train", help="train one model from a TOML configuration (see dil_optim.training.config)")
    tr.add_argument("--config", required=True, help="the run's TOML file")
    tr.add_argument(
        "--resume",
        action="store_true",
        help="continue the run whose checkpoint is in [output] dir (it must exist; changed keys other "
        "than train.steps, train.checkpoint_every, train.device, output.dir are refused)",
    )
    tr.add_argument(
        "--overwrite",
        action="store_true",
        help="start a new run even if [output] dir holds a checkpoint (it is replaced)",
    )
    tr.set_defaults(func=cmd_train)
    ev = sub.add_parser("eval", help="PSNR/SSIM of a checkpoint on test sets at given distortion levels")
    ev.add_argument("--checkpoint", required=True)
    ev.add_argument("--set", nargs="+", required=True, help="test set names (CBSD68, McMaster, builtin, ...)")
    ev.add_argument(
        "--sigma",
        nargs="+",
        type=float,
        required=True,
        help="AWGN sigma on the 0-255 scale (denoising runs) or blur sigma (deblurring runs)",
    )
    ev.add_argument("--data-root", default=None)
    ev.add_argument("--images", type=int, default=None, help="only the first K images of each set")
    ev.add_argument("--device", default="auto")
    ev.set_defaults(func=cmd_eval)
    from .training.reproduce.tables import TABLES

    rp = sub.add_parser(
        "reproduce",
        help="reproduce one of the paper's tables (options pass through)",
        epilog=_reproduce_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rp.add_argument("table", choices=sorted(TABLES))
    return ap


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    argv = sys.argv[1:] if argv is None else list(argv)
    if len(argv) >= 2 and argv[0] == "reproduce" and not argv[1].startswith("-"):
        from .training.reproduce.tables import TABLES

        if argv[1] in TABLES:  # the table's own parser reads (and --help lists) the rest
            return cmd_reproduce(argv[1], argv[2:])
    args, rest = build_parser().parse_known_args(argv)
    if rest:
        print(f"error: unrecognized arguments: {' '.join(rest)}", file=sys.stderr)
        return 2
    try:
        return int(args.func(args))
    except UsageError as exc:  # a user error: one line, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
