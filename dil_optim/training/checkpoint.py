"""Checkpoint files that are written atomically and verified when read.

Format: the 8-byte magic ``b"DILCKPT1"``, the 32-byte SHA-256 of the payload, then the payload,
which is an ordinary ``torch.save`` stream. A truncated or altered file fails the digest and is
refused before ``torch.load`` sees it; the payload is then loaded with ``weights_only=True``, so a
checkpoint can never run code. Writing goes to a temporary file in the same folder, flushed and
fsynced, then ``os.replace``-d over the target: a crash leaves the old checkpoint or the new
one, never half of one; temporary files left by an interrupted write are removed by the next
write of the same checkpoint (and by :func:`remove_stale_temporaries`).
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
from pathlib import Path
from typing import Any

import torch

from ..data.verify import remove_stale_temporaries, write_atomic

__all__ = ["save_checkpoint", "load_checkpoint", "remove_stale_temporaries", "CheckpointError"]

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
    write_atomic(path, [MAGIC, digest, payload], fsync_dir=True)
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
    expected, payload = data[len(MAGIC) : _HEADER], memoryview(data)[_HEADER:]
    got = hashlib.sha256(payload).digest()
    if got != expected:
        raise CheckpointError(
            f"{path} is truncated or corrupt: SHA-256 of its payload is {got.hex()}, the header says {expected.hex()}"
        )
    try:
        state = torch.load(io.BytesIO(payload), map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:  # our message, not torch's advice to drop weights_only
        raise CheckpointError(
            f"{path} holds Python objects other than tensors, numbers, strings and containers, so it "
            f"is refused: loading it could run code. dil-optim writes no such checkpoints; it was written "
            f"by other software or altered ({_first_line(exc)})"
        ) from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} holds a {type(state).__name__}, not a checkpoint dict")
    return state


def _first_line(exc: BaseException) -> str:
    """The refused object as the unpickler names it, without torch's advice to drop weights_only."""
    for line in str(exc).splitlines():
        low = line.lower()
        if "unsupported" in low and "global" in low:  # "Unsupported global: GLOBAL a.B was not ..." and
            start = low.index("unsupported")  # "Trying to load unsupported GLOBAL a.b whose ..."
            return line[start:].split(" was not")[0].split(" whose")[0].strip()[:200]
    return "an object the weights-only unpickler does not allow"
