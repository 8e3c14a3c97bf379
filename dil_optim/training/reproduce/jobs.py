"""One training run of a reproduction: a (method, seed, lr) :class:`Job`, built, trained, scored.

:func:`run_job` trains one model with :func:`dil_optim.training.train.train` for the job's
number of outer steps, checkpoints it (an interrupted run resumes to the same numbers),
scores it along the way on the test sets (noise seeded per image: every method sees identical
inputs, :mod:`dil_optim.training.evaluation`) and on the validation split of the training
images, and returns a plain-data record. Jobs are plain data so they cross process boundaries.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ...augment import ConfounderSet, PairedFolder
from ...core.wrapper import DILWrapper
from ...data import PatchSampler
from ...models import build_model
from .. import fast
from ..evaluation import DEGRADATIONS, Evaluator, load_test_sets, split_train_val, train_images
from ..launch import ShardedSource
from ..losses import build_loss
from ..train import ConfounderBatchSource, batch_mode, ge_per_step, train
from . import provenance
from .convergence import eval_steps, seen_val_psnr, undertrained
from .resume import ConfigGuard, History
from .spec import METHODS, Profile, TableSpec, method_variant

__all__ = [
    "Job",
    "job_model",
    "trained_model",
    "build_job",
    "run_job",
    "test_sets",
]


@dataclass(frozen=True)
class Job:
    """One (seed, method, lr) run; plain data so it crosses process boundaries.

    content: how the confounder batches of a DIL variant get their clean images: ``"shared"``
    (one clean batch degraded n ways, the paper's counterfactual augmentation) or
    ``"independent"`` (a clean batch per confounder, what the authors' code does).
    lr: None: the profile's lr. group: a prefix of the job's name in progress reports.
    backbone: the label of one of the table's backbones (Table 6: ``"RRDB"``, ``"SwinIR"``;
    the profile then holds its model): it prefixes the label (``"RRDB/ERM"``), so the jobs of
    one method and seed on two backbones are told apart in the table and in their folders.
    """

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
    content: str = "shared"
    lr: float | None = None
    group: str = ""  # names the job in progress reports when several share method and seed (a study's cell)
    rank: int = 0  # under torchrun: this process's rank and the world size (the numbers do not depend on them)
    world: int = 1
    backbone: str = ""

    @property
    def label(self) -> str:
        label = METHODS[self.method] + ("-ind" if self.content == "independent" else "")
        return f"{self.backbone}/{label}" if self.backbone else label

    @property
    def seen_levels(self) -> tuple[float, ...]:
        """The levels the training covers: the training levels and the spec's ``seen_levels``."""
        return self.train_levels + tuple(v for v in self.spec.seen_levels if v not in self.train_levels)

    @property
    def tag(self) -> str:
        """The label, with the lr when the profile grids it: names the run in progress reports."""
        tag = f"{self.label} lr {self.run_lr:g}" if self.profile.lr_grid else self.label
        return f"{self.group}/{tag}" if self.group else tag

    @property
    def run_lr(self) -> float:
        return self.profile.lr if self.lr is None else self.lr

    @property
    def confounder_levels(self) -> tuple[float, ...]:
        """The levels the training batches draw: the seen ones, plus the unseen ones for the oracle."""
        if self.method == "erm_oracle":
            return self.train_levels + tuple(v for v in self.levels if v not in self.seen_levels)
        return self.train_levels

    @property
    def ge_per_step(self) -> int:
        return ge_per_step(method_variant(self.method), len(self.confounder_levels))

    @property
    def steps(self) -> int:
        per = 1 if self.profile.compute == "equal-steps" else self.ge_per_step
        steps = self.profile.budget_ge // per
        if steps < 1:
            raise ValueError(
                f"budget of {self.profile.budget_ge} ge is less than one outer step of {self.label} "
                f"({per} ge): raise --budget-ge"
            )
        return min(steps, self.max_steps) if self.max_steps else steps

    @property
    def folder(self) -> Path:
        sub = Path(self.out) / f"seed{self.seed}" / self.label
        return sub / f"lr{self.run_lr:g}" if self.profile.lr_grid else sub

    def config(self) -> dict[str, Any]:
        keep = ("method", "seed", "levels", "train_levels", "train_root", "data_root", "max_steps", "content")
        profile = {k: v for k, v in asdict(self.profile).items() if k not in ("workers", "lr_grid", "lr")}
        if not profile["fast"]:  # no speed option: the run is the one earlier versions recorded without the key
            del profile["fast"]
        return {**{k: getattr(self, k) for k in keep}, "profile": profile, "lr": self.run_lr, "steps": self.steps}


_SETS: dict[tuple[Any, ...], Any] = {}


def test_sets(names: tuple[str, ...], data_root: str | None, images: int | None, crop: int | None) -> Any:
    """:func:`load_test_sets`, decoded once per process; ``([], [])`` when ``names`` is empty."""
    if not names:
        return [], []
    key = (names, data_root, images, crop)
    return _SETS[key] if key in _SETS else _SETS.setdefault(key, load_test_sets(*key))


def _split(job: Job) -> tuple[Any, Any]:
    key = ("split", job.train_root, job.profile.val_images, job.profile.val_crop)
    if key not in _SETS:
        _SETS[key] = split_train_val(train_images(job.train_root), job.profile.val_images, job.profile.val_crop)
    return _SETS[key]


def _sync(device: torch.device) -> Any:
    return torch.cuda.synchronize if device.type == "cuda" else None


def job_model(job: Job) -> nn.Module:
    """A freshly initialised backbone of the job (``erm_bf``: with ``bias=False``), on the CPU."""
    overrides = dict(job.profile.model_overrides)
    if job.method == "erm_bf":
        overrides["bias"] = False
    return build_model(job.profile.model, **overrides)


def trained_model(job: Job) -> nn.Module:
    """The job's model with the weights of its final checkpoint, on the CPU, in eval mode."""
    from ..train import load_checkpoint

    model = job_model(job)
    model.load_state_dict(load_checkpoint(job.folder / "checkpoint.pt")["model"])
    return model.eval()


def dataset_confounders(job: Job) -> list[PairedFolder] | None:
    """The training levels as folders of pairs under ``--train-root`` (``spec.train_datasets``),
    when every one of them is there; else None (the levels' synthesis is used)."""
    names = job.spec.train_datasets
    if not names or job.train_root is None or any(v not in names for v in job.confounder_levels):
        return None
    roots = [Path(job.train_root) / names[v] for v in job.confounder_levels]
    if not all((r / "input").is_dir() and (r / "target").is_dir() for r in roots):
        return None
    return [PairedFolder(r, name=r.name) for r in roots]


def write_dnd(job: Job, model: nn.Module, sets: Any) -> Path | None:
    """Denoise the DND crops the run loaded and write them in the layout of DND's online
    benchmark (``<job folder>/dnd_submission/NNNN.mat``, :func:`~dil_optim.data.realsets.write_dnd_submission`)."""
    from ...data.realsets import write_dnd_submission

    entry = next(((imgs, info) for name, imgs, info in sets if name == "DND" and info.get("no_ground_truth")), None)
    if entry is None:
        return None
    imgs, info = entry
    device = torch.device(job.device)
    was = model.training
    model.eval()
    out: dict[tuple[int, int], torch.Tensor] = {}
    with torch.no_grad():
        for (_file, noisy), where in zip(imgs, info["where"]):
            out[tuple(where)] = model(noisy[None].to(device)).clamp(0, 1)[0].cpu()
    model.train(was)
    return write_dnd_submission(job.folder / "dnd_submission", out)


def build_job(job: Job) -> tuple[DILWrapper, Any, Any]:
    """Model (same initial weights for every method of a seed and backbone), optimizers, batches,
    scheduler. ``erm_bf`` builds the backbone with ``bias=False``."""
    p, device = job.profile, torch.device(job.device)
    torch.manual_seed(job.seed)
    variant = method_variant(job.method)
    model = fast.prepare_model(job_model(job).to(device), variant, device, p.fast)
    opt = fast.adam(model.parameters(), job.run_lr, device, p.fast)
    net: nn.Module = model
    if job.world > 1:  # gradients averaged at every (inner) step: one process with the global batch
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    dil = DILWrapper(
        net,
        opt,
        build_loss(job.spec.loss),
        variant,
        inner_lr=job.run_lr,
        ddp_mode="sync",
        autocast_dtype=fast.autocast_dtype(p.fast),
        generator=torch.Generator().manual_seed(1000 + job.seed),
    )
    train_part, _ = _split(job)
    sampler = PatchSampler(
        train_part, p.patch_size, p.batch_size, generator=torch.Generator().manual_seed(2000 + job.seed), device=device
    )
    content = job.content if variant in ("sf", "pf", "ss", "ps") else "shared"
    family: Any = DEGRADATIONS[job.spec.kind]  # level -> degradation
    folders = dataset_confounders(job)
    if folders is not None:  # whole datasets as confounders: their own clean images (independent content)
        cs = ConfounderSet(folders, content="independent")
    else:
        cs = ConfounderSet([family(v) for v in job.confounder_levels], content=content)
    source: Any = ConfounderBatchSource(
        sampler, cs, batch_mode(variant), generator=torch.Generator().manual_seed(3000 + job.seed)
    )
    if job.world > 1:
        source = ShardedSource(source, p.batch_size, job.rank, job.world)
    milestones = sorted({max(1, round(f * job.steps)) for f in p.milestones})
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=milestones, gamma=p.gamma)
    return dil, source, sched


def run_job(job: Job, progress: Any = None) -> dict[str, Any]:
    """Train (or resume) one method for one seed and lr, evaluate it; returns its record."""
    if job.profile.threads:
        torch.set_num_threads(job.profile.threads)
    send = progress.put if progress is not None else (lambda msg: None)
    if job.throughput:  # touches no checkpoint or record
        return _throughput(job, *build_job(job), send)
    name, device = job.tag, torch.device(job.device)
    folder = job.folder
    folder.mkdir(parents=True, exist_ok=True)
    record_path, ckpt = (
        folder / "record.json",
        folder / ("checkpoint.pt" if job.rank == 0 else f"checkpoint-rank{job.rank}.pt"),
    )
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

    sets, _ = test_sets(job.spec.datasets, job.data_root, job.profile.eval_images, job.profile.eval_crop)
    lead = job.rank == 0  # under torchrun, rank 0 alone scores the model and writes the record
    evaluator = Evaluator(sets, job.spec.kind, job.levels, job.device, job.spec.channel) if sets and lead else None
    _, val = _split(job)
    validator = (
        Evaluator([("val", val, {})], job.spec.kind, job.levels, job.device, job.spec.channel) if val and lead else None
    )
    history, steps = History(), job.steps
    at = eval_steps(steps, job.profile.evals, validator is not None)
    every = max(1, job.profile.checkpoint_every_ge // job.ge_per_step)
    eval_time = [0.0]

    def callback(step: int, stats: Any) -> None:
        send(("step", name, job.seed, step, steps, stats.outer_loss))
        if lead and step in at and not any(e["step"] == step for e in history.evals):
            t0 = time.perf_counter()
            entry: dict[str, Any] = {
                "step": step,
                "ge": step * job.ge_per_step,
                "rows": evaluator(dil.module) if evaluator else [],
            }
            if validator is not None:
                entry["val"] = validator(dil.module)
            eval_time[0] += time.perf_counter() - t0
            history.evals.append(entry)
            send(("eval", name, job.seed, step, steps, job.ge_per_step, entry["rows"] or entry.get("val", [])))

    res = train(
        dil,
        source,
        steps=steps,
        scheduler=sched,
        checkpoint_path=ckpt,
        checkpoint_every=every,
        resume=job.resume,
        callback=callback,
        sync=_sync(device),
        stateful={"history": history, "config": ConfigGuard(config, ckpt)},
    )
    if res.interrupted:  # SIGTERM/SIGINT: train() wrote a checkpoint at this step; --resume goes on
        raise KeyboardInterrupt(f"{name} seed {job.seed} stopped at step {res.step} of {steps}; checkpoint {ckpt}")
    if not lead:
        return {"method": job.label, "seed": job.seed, "rank": job.rank, "steps": steps}
    dnd = write_dnd(job, dil.module, sets) if sets else None
    final = next(e for e in history.evals if e["step"] == steps)
    record = {
        "method": job.label,
        "tag": name,
        "variant": method_variant(job.method),
        "key": job.method,
        "content": job.content,
        "seed": job.seed,
        "lr": job.run_lr,
        "config": config,
        "steps": steps,
        "ge_per_step": job.ge_per_step,
        "ge": steps * job.ge_per_step,
        "wall_time_s": res.wall_time_s,
        "eval_time_s": eval_time[0],
        "resumed_from": res.resumed_from,
        "params": sum(p.numel() for p in dil.module.parameters()),
        "processes": job.world,
        "final_loss": res.losses[-1] if res.losses else None,
        "history": history.evals,
        "final": final["rows"],
        "val_final": final.get("val", []),
        "val_seen_psnr": seen_val_psnr(final, job.seen_levels) if val else None,
        "convergence": undertrained(history.evals, steps, job.seen_levels),
        "backbone": job.backbone,
        "dnd_submission": str(dnd) if dnd else None,
    }
    provenance.write_json(record_path, record)
    send(("done", name, job.seed, steps, record))
    return record


def _throughput(job: Job, dil: DILWrapper, source: Any, sched: Any, send: Any) -> dict[str, Any]:
    device = torch.device(job.device)
    n = job.max_steps or 20
    train(dil, source, steps=1, sync=_sync(device))  # warm-up: allocator, kernels, autotuning
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    res = train(
        dil,
        source,
        steps=n,
        scheduler=sched,
        sync=_sync(device),
        callback=lambda s, st: send(("step", job.tag, job.seed, s, n, st.outer_loss)),
    )
    rec = {
        "method": job.tag,
        "model": job.profile.model,
        "steps": n,
        "ge_per_step": job.ge_per_step,
        "params": sum(p.numel() for p in dil.module.parameters()),
        "processes": job.world,
        "wall_time_s": res.wall_time_s,
        "it_per_s": n / res.wall_time_s,
        "ge_per_s": n * job.ge_per_step / res.wall_time_s,
        "peak_memory_gib": torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None,
    }
    send(("done", rec["method"], job.seed, n, rec))
    return rec
