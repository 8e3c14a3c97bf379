"""Run configuration for ``dil-optim train``: a TOML file, validated with errors that name the key.

Example (every key but ``[train] steps`` has a default)::

    task = "denoise"                    # denoise | deblur | hybrid | realsr | realsr2 | realdenoise

    [model]
    name = "dncnn"                      # rrdb | rrdb_small | swinir | swinir_small | dncnn
    overrides = { width = 32 }          # constructor arguments of that backbone

    [dil]
    variant = "sf"                      # erm | sf | pf | ss | ps
    inner_lr = 1e-4
    backend = "torch_func"              # torch_func | higher
    virtual_step = "adam"               # adam | sgd
    second_order = "graph"              # graph | hvp | vmap (ss/ps only; same numbers, other memory/time)
    ddp_mode = "sync"                   # sync | local

    [train]
    steps = 1000                        # outer steps
    lr = 1e-4
    milestones = [500, 750]             # outer steps at which lr is multiplied by gamma
    gamma = 0.5
    batch_size = 8                      # per confounder, per process
    patch_size = 48
    seed = 0
    precision = "fp32"                  # fp32 | bf16 | fp16 (fp16 on CUDA, with a GradScaler)
    checkpoint_every = 100
    device = "auto"                     # auto | cpu | cuda | cuda:N

    [data]
    # train_root = "images/train"       # optional: a folder of clean images; scikit-image's photographs otherwise

    [output]
    dir = "runs/denoise-sf"

``docs/example_config.toml`` is a complete, runnable file with every key.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["ConfigError", "RunConfig", "load_config", "parse_config"]

TASKS = ("denoise", "deblur", "hybrid", "realsr", "realsr2", "realdenoise")
MODELS = ("rrdb", "rrdb_small", "swinir", "swinir_small", "dncnn")
CHOICES = {
    "task": TASKS,
    "model.name": MODELS,
    "dil.variant": ("erm", "sf", "pf", "ss", "ps"),
    "dil.backend": ("torch_func", "higher"),
    "dil.virtual_step": ("adam", "sgd"),
    "dil.second_order": ("graph", "hvp", "vmap"),
    "dil.ddp_mode": ("sync", "local"),
    "train.precision": ("fp32", "bf16", "fp16"),
}


class ConfigError(ValueError):
    """A configuration file or value is invalid; the message names the key."""


@dataclass
class ModelConfig:
    name: str = "dncnn"
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass
class DILConfig:
    variant: str = "sf"
    inner_lr: float = 1e-4
    inner_steps: int | None = None
    backend: str = "torch_func"
    virtual_step: str = "adam"
    second_order: str = "graph"
    ddp_mode: str = "sync"


@dataclass
class TrainConfig:
    steps: int = 0
    lr: float = 1e-4
    milestones: list[int] = field(default_factory=list)
    gamma: float = 0.5
    batch_size: int = 8
    patch_size: int = 48
    seed: int = 0
    precision: str = "fp32"
    checkpoint_every: int = 100
    device: str = "auto"


@dataclass
class DataConfig:
    train_root: str | None = None


@dataclass
class OutputConfig:
    dir: str = "runs/dil"


@dataclass
class RunConfig:
    task: str = "denoise"
    model: ModelConfig = field(default_factory=ModelConfig)
    dil: DILConfig = field(default_factory=DILConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: DataConfig = field(default_factory=DataConfig)
    output: OutputConfig = field(default_factory=OutputConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_config(path: str | os.PathLike[str]) -> RunConfig:
    """Read and validate a TOML run configuration."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    return parse_config(raw, source=str(path))


def parse_config(raw: dict[str, Any], source: str = "config") -> RunConfig:
    """Validate a configuration dict (as TOML gives it) into a :class:`RunConfig`."""
    cfg = _build(RunConfig, raw, source, "")
    for key, allowed in CHOICES.items():
        value = _get(cfg, key)
        if value not in allowed:
            raise ConfigError(f"{source}: {key} = {value!r} is not allowed; choose one of {', '.join(allowed)}")
    t = cfg.train
    for key, value in (("train.lr", t.lr), ("train.gamma", t.gamma), ("dil.inner_lr", cfg.dil.inner_lr)):
        if not math.isfinite(value):
            raise ConfigError(f"{source}: {key} must be a finite number > 0, got {value}")
    if not _DEVICE.fullmatch(t.device):
        raise ConfigError(f"{source}: train.device = {t.device!r} is not a device; use auto, cpu, cuda, cuda:N or mps")
    if cfg.dil.inner_steps is not None and cfg.dil.inner_steps < 1:
        raise ConfigError(
            f"{source}: dil.inner_steps must be >= 1 (or left out for the variant's default), got {cfg.dil.inner_steps}"
        )
    _check_overrides(cfg.model.name, cfg.model.overrides, source)
    if t.steps < 1:
        raise ConfigError(f"{source}: train.steps must be a positive integer (the number of outer steps)")
    for key in ("lr", "gamma"):
        if not getattr(t, key) > 0:
            raise ConfigError(f"{source}: train.{key} must be > 0, got {getattr(t, key)}")
    if not cfg.dil.inner_lr > 0:
        raise ConfigError(f"{source}: dil.inner_lr must be > 0, got {cfg.dil.inner_lr}")
    for key in ("batch_size", "patch_size"):
        if getattr(t, key) < 1:
            raise ConfigError(f"{source}: train.{key} must be >= 1, got {getattr(t, key)}")
    if t.checkpoint_every < 0:
        raise ConfigError(f"{source}: train.checkpoint_every must be >= 0, got {t.checkpoint_every}")
    if sorted(t.milestones) != t.milestones or any(m < 1 for m in t.milestones):
        raise ConfigError(f"{source}: train.milestones must be increasing positive steps, got {t.milestones}")
    return cfg


_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def _check_overrides(name: str, overrides: dict[str, Any], source: str) -> None:
    """Every ``[model] overrides`` key must be a constructor argument of the named backbone."""
    from ..models.factory import model_config

    cls, _ = model_config(name)
    allowed = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(overrides) - set(allowed))
    if unknown:
        raise ConfigError(
            f"{source}: model.overrides has unknown key(s) {', '.join(unknown)} for {name!r} "
            f"({cls.__name__}); allowed: {', '.join(allowed)}"
        )


def _get(cfg: RunConfig, dotted: str) -> Any:
    obj: Any = cfg
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def _build(cls: type, raw: Any, source: str, prefix: str) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: [{prefix.rstrip('.')}] must be a table, got {type(raw).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        where = f"[{prefix.rstrip('.')}]" if prefix else "the top level"
        raise ConfigError(f"{source}: unknown key {prefix}{unknown[0]} in {where}; allowed keys: {', '.join(fields)}")
    kwargs = {}
    for name, value in raw.items():
        f = fields[name]
        key = prefix + name
        if isinstance(f.default_factory, type) and dataclasses.is_dataclass(f.default_factory):
            kwargs[name] = _build(f.default_factory, value, source, key + ".")
        else:
            kwargs[name] = _check_type(key, value, f.type, source)
    return cls(**kwargs)


def _check_type(key: str, value: Any, annotation: Any, source: str) -> Any:
    ann = str(annotation)
    ok = {
        "str": isinstance(value, str),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "int | None": value is None or (isinstance(value, int) and not isinstance(value, bool)),
        "str | None": value is None or isinstance(value, str),
        "list[int]": isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value),
        "dict[str, Any]": isinstance(value, dict),
    }.get(ann)
    if ok is None:  # pragma: no cover - a field type this parser does not know
        raise TypeError(f"unsupported config field type {ann} for {key}")
    if not ok:
        raise ConfigError(f"{source}: {key} must be of type {ann}, got {value!r}")
    return float(value) if ann == "float" else value
