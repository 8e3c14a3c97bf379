"""Checksums of data files, and a small on-disk record of files already verified.

Hashing a whole test set each time it is opened is slow (Urban100 is 136 MB), so a file that
passed is recorded in ``<cache_home()>/verified-v1.json`` keyed by its absolute path, with its
size, modification time (ns) and the checksum it matched. Later opens re-hash only files whose
size or mtime changed, or whose expected checksum is different. ``verify="full"`` ignores the
record. An unwritable cache folder only disables the record (logged at debug level).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from .images import decode_image_uint8
from .registry import FileRecord, cache_home

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's bytes (read in 1 MiB chunks)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def pixels_sha256(image: torch.Tensor) -> str:
    """Hex sha256 of a ``(3, H, W)`` uint8 image's pixels laid out as C-ordered ``(H, W, 3)``."""
    if image.dtype != torch.uint8 or image.dim() != 3 or image.shape[0] != 3:
        raise ValueError(f"expected a (3, H, W) uint8 tensor, got {tuple(image.shape)} {image.dtype}")
    return hashlib.sha256(image.permute(1, 2, 0).contiguous().numpy().tobytes()).hexdigest()


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class VerificationRecord:
    """The on-disk record of verified files (see the module docstring)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else cache_home() / "verified-v1.json"
        self._entries: dict[str, dict[str, Any]] = {}
        self._dirty = False
        try:
            loaded = json.loads(self.path.read_text("utf-8"))
            if isinstance(loaded, dict):
                self._entries = {k: v for k, v in loaded.items() if isinstance(v, dict)}
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:
            logger.debug("ignoring unreadable verification record %s: %s", self.path, exc)

    def is_verified(self, path: Path, st: os.stat_result, expected_sha256: str) -> bool:
        e = self._entries.get(os.path.abspath(path))
        return bool(e) and e.get("size") == st.st_size and e.get("mtime_ns") == st.st_mtime_ns \
            and e.get("sha256") == expected_sha256

    def add(self, path: Path, st: os.stat_result, expected_sha256: str, via: str) -> None:
        self._entries[os.path.abspath(path)] = {
            "size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": expected_sha256, "via": via,
        }
        self._dirty = True

    def save(self) -> None:
        if not self._dirty:
            return
        try:
            write_atomic(self.path, json.dumps(self._entries, indent=0, sort_keys=True).encode())
            self._dirty = False
        except OSError as exc:
            logger.debug("cannot write verification record %s: %s", self.path, exc)


def check_file(path: Path, record: FileRecord, verified: VerificationRecord | None) -> str | None:
    """Verify one file against its record; ``None`` if it passes, else what is wrong.

    A file passes if its sha256 matches, or (a lossless re-encoding) its decoded pixels match
    ``pixels_sha256`` and its size in pixels is right. ``verified=None`` forces hashing and
    records nothing.
    """
    st = path.stat()
    if verified is not None and verified.is_verified(path, st, record.sha256):
        return None
    got = file_sha256(path)
    if got == record.sha256:
        if verified is not None:
            verified.add(path, st, record.sha256, "file")
        return None
    try:
        img = decode_image_uint8(path)
    except ValueError as exc:
        return f"{record.file}: expected sha256 {record.sha256}, got {got} (and it does not decode: {exc})"
    h, w = img.shape[1], img.shape[2]
    if (w, h) == (record.width, record.height) and pixels_sha256(img) == record.pixels_sha256:
        logger.info("%s: file differs from the reference but its pixels match (a lossless re-encoding)", path)
        if verified is not None:
            verified.add(path, st, record.sha256, "pixels")
        return None
    return (f"{record.file}: expected sha256 {record.sha256}, got {got} "
            f"({w}x{h} pixels, expected {record.width}x{record.height}; pixel checksum differs too)")
