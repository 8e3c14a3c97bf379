"""Downloading files with a known sha256: atomic, resumable; and whole test sets.

``download`` writes into ``<dest>.part`` and renames it onto ``dest`` (``os.replace``) only
after the checksum matched, so the cache never holds a half-written or wrong file under its
real name. An interrupted download leaves the ``.part`` file; the next call asks the server
for the rest (HTTP ``Range``) and starts over if the server does not honour it. It is not
safe for two processes to download the same file at once: download before launching ranks.

Run ``python -m dil_optim.data.downloader SET [SET ...] [--data-root DIR]`` to fetch test sets.
"""

from __future__ import annotations

import argparse
import http.client
import io
import logging
import os
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from .images import decode_image_uint8
from .registry import DATA_ENV_VAR, default_cache_root, lookup_test_set, manifest
from .verify import VerificationRecord, check_file, file_sha256, pixels_sha256, write_atomic

logger = logging.getLogger(__name__)

Progress = Callable[[int, "int | None"], None]
_HEX64 = re.compile(r"[0-9a-f]{64}")


class DownloadError(OSError):
    """The server could not be reached, answered with an error, or the transfer was cut short."""


class ChecksumError(ValueError):
    """A downloaded file's sha256 differs from the expected one (nothing in the cache changed)."""


def _open(url: str, offset: int, timeout: float):  # -> an HTTP response
    req = urllib.request.Request(url, headers={"User-Agent": "dil-optim"})
    if offset:
        req.add_header("Range", f"bytes={offset}-")
    try:
        return urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            return None  # the .part file already holds every byte
        raise DownloadError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise DownloadError(f"download of {url} failed: {exc}") from exc


def download(
    url: str,
    dest: str | os.PathLike[str],
    sha256: str,
    *,
    timeout: float = 60.0,
    chunk_size: int = 1 << 20,
    progress: Progress | None = None,
) -> Path:
    """Download ``url`` to ``dest`` and check that its sha256 is ``sha256``; returns ``dest``.

    - ``dest`` already present with the right checksum: nothing is downloaded.
    - ``dest`` present with another checksum: ``FileExistsError`` (it is never overwritten).
    - Transfer into ``dest + ".part"``, resumed from its size with an HTTP ``Range`` request.
    - Checksum mismatch: the ``.part`` file is deleted, ``dest`` untouched, ``ChecksumError``
      naming the expected and the actual sha256.
    - Network or HTTP failure, or fewer bytes than announced: ``DownloadError`` (an ``OSError``);
      the ``.part`` file is kept so that the next call resumes.

    ``progress(bytes_done, total_or_None)`` is called after each chunk.
    """
    expected = sha256.lower() if isinstance(sha256, str) else sha256
    if not isinstance(expected, str) or not _HEX64.fullmatch(expected):
        raise ValueError(f"sha256 must be 64 hex digits, got {sha256!r}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    dest = Path(dest)
    if dest.exists():
        got = file_sha256(dest)
        if got == expected:
            logger.debug("%s already present and verified", dest)
            return dest
        raise FileExistsError(
            f"{dest} exists with sha256 {got}, expected {expected}; "
            f"it is left as it is: delete it to download {url} again"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    resp = _open(url, offset, timeout)
    if resp is not None:
        with resp:
            status = resp.status
            total: int | None = None
            if status == 206:
                m = re.match(r"bytes (\d+)-(\d+)/(\d+|\*)", resp.headers.get("Content-Range", ""))
                if not m or int(m.group(1)) != offset:
                    resp.close()
                    logger.info("%s: server answered an unexpected range; starting over", url)
                    part.unlink()
                    return download(url, dest, expected, timeout=timeout, chunk_size=chunk_size, progress=progress)
                total = int(m.group(3)) if m.group(3) != "*" else None
                mode = "ab"
                logger.info("resuming %s at byte %d", url, offset)
            else:
                offset, mode = 0, "wb"
                length = resp.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
            done = offset
            try:
                with open(part, mode) as f:
                    while True:
                        chunk = resp.read(chunk_size)
                        if not chunk:
                            break
                        f.write(chunk)
                        done += len(chunk)
                        if progress is not None:
                            progress(done, total)
                    f.flush()
                    os.fsync(f.fileno())
            except (OSError, http.client.HTTPException) as exc:
                raise DownloadError(
                    f"download of {url} interrupted after {done} bytes (kept in {part}, the next call resumes): {exc}"
                ) from exc
            if total is not None and done < total:
                raise DownloadError(
                    f"download of {url} stopped at {done} of {total} bytes (kept in {part}, the next call resumes)"
                )
    got = file_sha256(part)
    if got != expected:
        part.unlink()
        raise ChecksumError(
            f"{url}: expected sha256 {expected}, got {got}; the download was "
            f"discarded and nothing in {dest.parent} was changed"
        )
    os.replace(part, dest)
    logger.info("downloaded %s -> %s", url, dest)
    return dest


def download_test_set(
    name: str,
    data_root: str | os.PathLike[str] | None = None,
    *,
    timeout: float = 60.0,
    progress: Progress | None = None,
) -> Path:
    """Download every missing file of test set ``name`` into ``<root>/<SetName>/``; returns that folder.

    ``root`` is ``data_root``, else ``$DIL_OPTIM_DATA``, else the user cache folder. Files
    already present and valid are kept. Files whose source is a TIFF or JPEG are downloaded
    (verified by the source's sha256), decoded, checked against the expected pixel checksum and
    saved as PNG without loss. Problems (no public URL, a present file that fails its checksum,
    failed downloads) are gathered and raised together at the end.
    """
    spec = lookup_test_set(name)
    records = manifest(spec.name) if spec.has_manifest else ()
    if not records:
        raise ValueError(f"test set {spec.name!r} cannot be downloaded: {spec.how_to_get}")
    env = os.environ.get(DATA_ENV_VAR)
    root = (
        Path(data_root).expanduser()
        if data_root is not None
        else (Path(env).expanduser() if env else default_cache_root())
    )
    folder = root / spec.name
    folder.mkdir(parents=True, exist_ok=True)
    verified = VerificationRecord()
    problems: list[str] = []
    try:
        for r in records:
            dest = folder / r.file
            try:
                if dest.exists():
                    issue = check_file(dest, r, verified)
                    if issue:
                        problems.append(f"{issue} (present: delete it to download again)")
                    continue
                if not r.url:
                    problems.append(f"{r.file}: no public URL is known")
                    continue
                if not r.source_sha256:
                    download(r.url, dest, r.sha256, timeout=timeout, progress=progress)
                    continue
                src = root / ".downloads" / spec.name / r.url.rsplit("/", 1)[-1]
                download(r.url, src, r.source_sha256, timeout=timeout, progress=progress)
                img = decode_image_uint8(src)
                if (img.shape[2], img.shape[1]) != (r.width, r.height) or pixels_sha256(img) != r.pixels_sha256:
                    problems.append(
                        f"{r.file}: {src.name} decodes to other pixels than expected "
                        "(a different JPEG decoder?); not saved"
                    )
                    continue
                buf = io.BytesIO()
                Image.fromarray(np.ascontiguousarray(img.permute(1, 2, 0).numpy())).save(buf, format="PNG")
                write_atomic(dest, buf.getvalue())
                verified.add(dest, dest.stat(), r.sha256, "pixels")
                src.unlink()
            except (OSError, ValueError) as exc:
                problems.append(f"{r.file}: {exc}")
    finally:
        verified.save()
    if problems:
        raise DownloadError(
            f"test set {spec.name} in {folder}: {len(problems)} problem(s): "
            + "; ".join(problems[:10])
            + (" ..." if len(problems) > 10 else "")
        )
    return folder


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m dil_optim.data.downloader SET [SET ...] [--data-root DIR]``."""
    parser = argparse.ArgumentParser(description="Download standard test sets, verifying sha256.")
    parser.add_argument("sets", nargs="+", help="test set names, e.g. Kodak24 Set5")
    parser.add_argument("--data-root", default=None, help=f"target root (default ${DATA_ENV_VAR}, else the user cache)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    status = 0
    for s in args.sets:
        try:
            logger.info("%s: ready in %s", s, download_test_set(s, args.data_root))
        except (OSError, ValueError) as exc:
            logger.error("%s: %s", s, exc)
            status = 1
    return status


if __name__ == "__main__":
    raise SystemExit(main())
