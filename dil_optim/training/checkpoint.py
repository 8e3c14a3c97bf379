"""Checkpoint files that are written atomically and verified when read.

Format: the 8-byte magic ``b"DILCKPT1"``, the 32-byte SHA-256 of the payload, then the payload,
which is an ordinary ``torch.save`` stream. A truncated or altered file fails the digest and is
refused before ``torch.load`` sees it; the payload is then loaded with ``weights_only=True``, so a
checkpoint can never run code. Writing goes to a temporary file in the same folder, flushed and
fsynced, then ``os.replace``-d over the target: a crash leaves the old checkpoint or the new
one, never half of one.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

__all__ = ["save_checkpoint", "load_checkpoint", "CheckpointError"]

MAGIC = b"DILCKPT1"
_HEADER = len(MAGIC) + 32


class CheckpointError(ValueError):
    """The file is not a dil-optim checkpoint, or it is truncated or altered."""


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write ``state`` (tensors, numbers, strings, nested dicts/lists) to ``path`` atomically."""
    path = Path(path)
    buf = io.BytesIO()
    torch.save(state, buf)
    payload = buf.getbuffer()
    digest = hashlib.sha256(payload).digest()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(MAGIC)
            f.write(digest)
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def load_checkpoint(path: str | os.PathLike[str], map_location: Any = None) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`, verifying its digest first.

    Raises:
        FileNotFoundError: no file at ``path``.
        CheckpointError: wrong magic, truncated, or the SHA-256 does not match.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    data = path.read_bytes()
    if len(data) < _HEADER or not data.startswith(MAGIC):
        raise CheckpointError(f"{path} is not a dil-optim checkpoint (bad header, {len(data)} bytes)")
    expected, payload = data[len(MAGIC):_HEADER], memoryview(data)[_HEADER:]
    got = hashlib.sha256(payload).digest()
    if got != expected:
        raise CheckpointError(
            f"{path} is truncated or corrupt: SHA-256 of its payload is {got.hex()}, "
            f"the header says {expected.hex()}"
        )
    state = torch.load(io.BytesIO(payload), map_location=map_location, weights_only=True)
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} holds a {type(state).__name__}, not a checkpoint dict")
    return state


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)
