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
import time
from collections.abc import Sequence
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


_TMP_SUFFIX = ".tmp"
_STALE_AFTER_S = 3600.0  # a temporary file of a writer that is not running, or this old, is a leftover


def _temp_prefix(path: Path) -> str:
    """``.<name>.<pid>.``: the process id tells a live writer's file from an interrupted one's."""
    return f".{path.name}.{os.getpid()}."


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):  # exists but is not ours, or the platform cannot tell
        return True
    return True


def remove_stale_temporaries(path: str | os.PathLike[str]) -> list[Path]:
    """Remove leftovers of interrupted atomic writes of ``path``; returns the files removed.

    A temporary file ``.<name>.<pid>.<random>.tmp`` beside ``path`` is a leftover when no
    process ``pid`` runs on this machine or it is more than an hour old; a file of the older
    pattern ``.<name>.<random>.tmp`` (no pid) only by age. A live writer's file is left alone.
    """
    path = Path(path)
    removed: list[Path] = []
    try:
        candidates = list(path.parent.glob(f".{glob_escape(path.name)}.*{_TMP_SUFFIX}"))
    except OSError:
        return removed
    now = time.time()
    for tmp in candidates:
        middle = tmp.name[len(path.name) + 2 : -len(_TMP_SUFFIX)]
        pid_text = middle.split(".", 1)[0]
        try:
            old = now - tmp.stat().st_mtime > _STALE_AFTER_S
        except OSError:
            continue
        dead = pid_text.isdigit() and "." in middle and int(pid_text) != os.getpid() and not _pid_alive(int(pid_text))
        if old or dead:
            try:
                tmp.unlink()
                removed.append(tmp)
                logger.info("removed %s, left by an interrupted write of %s", tmp, path)
            except OSError as exc:
                logger.debug("cannot remove leftover %s: %s", tmp, exc)
    return removed


def glob_escape(name: str) -> str:
    """``name`` with the glob metacharacters ``*?[`` escaped."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def write_atomic(
    path: Path, data: bytes | memoryview | Sequence[bytes | memoryview], *, fsync_dir: bool = False
) -> None:
    """Write ``data`` (bytes, or a sequence of chunks) to ``path`` atomically.

    The bytes go to a temporary file ``.<name>.<pid>.<random>.tmp`` in the same folder, flushed
    and fsynced, then ``os.replace``-d over ``path``: a crash leaves the old file or the new one,
    never half of one. Leftovers of earlier interrupted writes of ``path`` are removed first
    (:func:`remove_stale_temporaries`); a failed write removes its own temporary file.
    ``fsync_dir`` also syncs the folder so the rename itself survives a power loss.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    chunks = [data] if isinstance(data, (bytes, bytearray, memoryview)) else list(data)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_temp_prefix(path), suffix=_TMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if fsync_dir:
        _fsync_dir(path.parent)


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
        return (
            e is not None
            and e.get("size") == st.st_size
            and e.get("mtime_ns") == st.st_mtime_ns
            and e.get("sha256") == expected_sha256
        )

    def add(self, path: Path, st: os.stat_result, expected_sha256: str, via: str) -> None:
        self._entries[os.path.abspath(path)] = {
            "size": st.st_size,
            "mtime_ns": st.st_mtime_ns,
            "sha256": expected_sha256,
            "via": via,
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
    return (
        f"{record.file}: expected sha256 {record.sha256}, got {got} "
        f"({w}x{h} pixels, expected {record.width}x{record.height}; pixel checksum differs too)"
    )
