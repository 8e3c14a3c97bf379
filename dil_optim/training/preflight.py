"""Checks ``dil-optim train`` makes before any work starts: output folder, checkpoint, resume.

Each check raises :class:`UsageError` with one line that names the problem and the fix; the
command line turns it into exit status 2 without a traceback. Nothing here writes a file that
the run will not write anyway (the writability probe removes its own file).

Resuming compares the checkpoint's configuration with the new one key by key (dotted names,
``train.lr``). Keys in :data:`SAFE_ON_RESUME` may change: the new value applies from the resumed
step on and each change is recorded in the checkpoint (``config["resume_history"]``). Any other
changed key refuses the resume and is listed.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from .config import RunConfig

__all__ = ["SAFE_ON_RESUME", "UsageError", "check_output_dir", "check_checkpoint_target", "config_changes", "flatten"]

logger = logging.getLogger(__name__)

#: Configuration keys a resumed run may change, and why each is safe.
SAFE_ON_RESUME: dict[str, str] = {
    "train.steps": "extends (or shortens, not below the checkpoint's step) the run; the LR milestones stay",
    "train.checkpoint_every": "only how often the state is written",
    "dil.second_order": "every mode computes the same gradient (to round-off); only memory and time differ",
    "train.device": "where the same state runs (bitwise equality across devices is not promised)",
    "output.dir": "where the checkpoint is read and written (a moved run folder)",
}

#: The key under which a checkpoint's configuration records the changes applied on resume.
HISTORY_KEY = "resume_history"


class UsageError(Exception):
    """A user error found before any work started: one line, naming the problem and the fix."""


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train": {"lr": 1e-4}}`` -> ``{"train.lr": 1e-4}``; ``model.overrides`` stays one value."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = prefix + key
        if isinstance(value, dict) and name != "model.overrides":
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def config_changes(
    old: dict[str, Any], new: dict[str, Any]
) -> tuple[dict[str, tuple[Any, Any]], dict[str, tuple[Any, Any]]]:
    """``(unsafe, safe)``: the keys whose values differ between a checkpoint's configuration
    ``old`` and the new ``new`` (both as :meth:`RunConfig.to_dict` gives them), each mapped to
    ``(old value, new value)``. A key absent from ``old`` (written by an older version) counts as
    its default value. Tuples and lists compare equal when their items do."""
    defaults = flatten(RunConfig().to_dict())
    a = flatten({k: v for k, v in old.items() if k != HISTORY_KEY})
    b = flatten(new)
    unsafe: dict[str, tuple[Any, Any]] = {}
    safe: dict[str, tuple[Any, Any]] = {}
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key, defaults.get(key)), b.get(key, defaults.get(key))
        if _norm(va) != _norm(vb):
            (safe if key in SAFE_ON_RESUME else unsafe)[key] = (va, vb)
    return unsafe, safe


def _norm(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_norm(v) for v in value]
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in value.items()}
    return value


def check_output_dir(folder: str | os.PathLike[str]) -> Path:
    """Make sure ``folder`` exists (created if needed) and a file can be written in it.

    Raises:
        UsageError: ``folder`` or one of its parents is a file, or the folder is not writable.
    """
    out = Path(folder)
    for parent in (out, *out.parents):
        if parent.exists() and not parent.is_dir():
            raise UsageError(f"output dir {out} is not usable: {parent} is a file; set [output] dir to a folder path")
        if parent.exists():
            break
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=out, prefix=".dil-optim-write-test.")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UsageError(
            f"output dir {out} is not writable ({exc.strerror or exc}); set [output] dir to a folder you can write"
        ) from None
    return out


def check_checkpoint_target(ckpt: Path, *, resume: bool, overwrite: bool) -> None:
    """The rules for an existing checkpoint: refuse to overwrite it silently, refuse to resume none.

    Raises:
        UsageError: ``resume`` and ``overwrite`` together; ``resume`` with no checkpoint; an existing
            checkpoint without ``resume`` or ``overwrite``.
    """
    if resume and overwrite:
        raise UsageError("--resume and --overwrite contradict each other; pass one of them")
    exists = ckpt.is_file()
    if resume and not exists:
        raise UsageError(f"--resume: no checkpoint at {ckpt}; run without --resume to start a new run there")
    if exists and not resume and not overwrite:
        raise UsageError(
            f"{ckpt} exists: pass --resume to continue that run, or --overwrite to start over "
            "(or set another [output] dir)"
        )
    if ckpt.exists() and not exists:
        raise UsageError(f"checkpoint path {ckpt} exists but is not a file; set another [output] dir")


def describe_changes(changes: dict[str, tuple[Any, Any]]) -> str:
    """``"train.lr: 0.0001 -> 0.001, ..."``."""
    return ", ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in changes.items())
