"""``TestSet``: a standard benchmark set, found in a data root and checked against its manifest."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import torch

from .builtin import BUILTIN_TEST, builtin_images_uint8
from .images import decode_image_uint8, list_images, uint8_to_float
from .registry import DATA_ENV_VAR, FileRecord, TestSetSpec, candidate_roots, lookup_test_set, manifest, resolve_set_dir
from .verify import VerificationRecord, check_file

logger = logging.getLogger(__name__)

Verify = Literal["cached", "full", "none"]


class TestSetError(FileNotFoundError):
    """A test set is absent, incomplete, or has files that fail their checksum.

    The message names the files and says how to get the set. A subclass of
    ``FileNotFoundError`` so that ``except FileNotFoundError`` catches an absent set.
    """

    __test__ = False


def _names(items: list[str], limit: int = 10) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" ... and {len(items) - limit} more" if len(items) > limit else "")


class TestSet:
    """A standard test set as ``(file_name, (3, H, W) float32 tensor in [0, 1])`` pairs.

    ``name``: one of ``known_test_sets()`` (CBSD68, Kodak24, McMaster, Set5, Set14, BSD100,
    Urban100, Manga109, DIV2K; case-insensitive, aliases B100, Kodak, McM), or ``"builtin"`` (the
    scikit-image test photographs, see ``builtin_images``; no files needed).

    The set's folder ``<root>/<SetName>/`` is taken from the first root that has it, in this
    order: ``data_root`` (``--data-root``), ``$DIL_OPTIM_DATA``, the user cache
    ``$XDG_CACHE_HOME/dil_optim/datasets`` (default ``~/.cache/dil_optim/datasets``).

    On construction every expected file must be present and pass its checksum (sha256 of the
    file, or of its decoded pixels for a lossless re-encoding); otherwise :class:`TestSetError`
    with one message naming the missing and failing files and how to get the set. Files in the
    folder that the manifest does not list are ignored (logged). Iteration follows the
    manifest's order; grayscale files are promoted to three channels.

    Args:
        allow_subset: accept a folder holding only some of the files (at least one); each file
            present is still verified, and a warning says the results are not comparable with
            published full-set numbers (``is_subset`` tells). Urban100 on a machine holding its
            first 75 images needs this.
        verify: ``"cached"`` (default) hashes a file only when it is not in the record of
            verified files or changed since (size, mtime); ``"full"`` re-hashes everything;
            ``"none"`` checks presence and pixel size only.
        cache_images: keep the decoded images (uint8) in memory after the first pass, so
            evaluating again does not decode again.
    """

    __test__ = False

    def __init__(
        self,
        name: str,
        data_root: str | os.PathLike[str] | None = None,
        *,
        allow_subset: bool = False,
        verify: Verify = "cached",
        cache_images: bool = True,
    ) -> None:
        if verify not in ("cached", "full", "none"):
            raise ValueError(f"verify must be 'cached', 'full' or 'none', got {verify!r}")
        self.cache_images = cache_images
        self._cache: dict[str, torch.Tensor] = {}
        self.is_subset = False
        self.spec: TestSetSpec | None
        self.root: Path | None
        if isinstance(name, str) and name.strip().lower() == "builtin":
            self.name, self.spec, self.root = "builtin", None, None
            self._records: list[FileRecord] | None = None
            self.files: list[str] = list(BUILTIN_TEST)
            return
        self.spec = lookup_test_set(name)
        self.name = self.spec.name
        found = resolve_set_dir(self.name, data_root)
        if found is None:
            raise TestSetError(self._absent_message(data_root))
        self.root = found
        if self.spec.paired:
            raise TestSetError(
                f"test set {self.name!r} is a paired real set (degraded inputs with their clean "
                "images): read it with dil_optim.data.realsets.load_paired_set"
            )
        if self.spec.has_manifest:
            self._records = self._check_manifest_set(found, allow_subset, verify)
            self.files = [r.file for r in self._records]
        else:
            self._records = None
            self.files = self._check_unlisted_set(found, allow_subset)
        logger.info("test set %s: %d images from %s", self.name, len(self.files), found)

    def _absent_message(self, data_root: str | os.PathLike[str] | None) -> str:
        assert self.spec is not None
        roots = ", ".join(str(r) for r in candidate_roots(data_root))
        records = manifest(self.name)
        expected = (
            f"{self.spec.count} files ({records[0].file} .. {records[-1].file})"
            if records
            else f"{self.spec.count} images"
        )
        return (
            f"test set {self.name!r} not found: no folder {self.name}/ in any data root "
            f"(looked in, in order: {roots}; set a root with --data-root or ${DATA_ENV_VAR}). "
            f"Expected {expected}. To get it: {self.spec.how_to_get.format(name=self.name)}."
        )

    def _check_manifest_set(self, folder: Path, allow_subset: bool, verify: Verify) -> list[FileRecord]:
        assert self.spec is not None
        records = list(manifest(self.name))
        present = [r for r in records if (folder / r.file).is_file()]
        missing = [r.file for r in records if not (folder / r.file).is_file()]
        listed = {r.file for r in records}
        extra = [p.name for p in list_images(folder) if p.name not in listed]
        if extra:
            logger.info(
                "test set %s: ignoring %d file(s) not in its manifest: %s", self.name, len(extra), _names(extra)
            )
        bad: list[str] = []
        if verify != "none":
            verified = VerificationRecord() if verify == "cached" else None
            try:
                for r in present:
                    problem = check_file(folder / r.file, r, verified)
                    if problem:
                        bad.append(problem)
            finally:
                if verified is not None:
                    verified.save()
        incomplete = bool(missing) and (not allow_subset or not present)
        if incomplete or bad:
            parts = [f"test set {self.name!r} at {folder} is not usable:"]
            if incomplete:
                parts.append(f"{len(missing)} of {len(records)} files missing ({_names(missing)});")
            if bad:
                parts.append(f"{len(bad)} file(s) fail their checksum: {_names(bad, 5)};")
            parts.append(f"to get it: {self.spec.how_to_get.format(name=self.name)}.")
            if bad:
                parts.append(
                    "Replace the failing files (a download never overwrites a file that is present: delete them first)."
                )
            if missing and not allow_subset:
                parts.append(
                    "Pass allow_subset=True to evaluate on the files present (results are "
                    "then not comparable with published full-set numbers)."
                )
            raise TestSetError(" ".join(parts))
        if missing:
            self.is_subset = True
            logger.warning(
                "test set %s: SUBSET of %d of %d images (missing %s); results are not "
                "comparable with published full-set numbers",
                self.name,
                len(present),
                len(records),
                _names(missing),
            )
        return present

    def _check_unlisted_set(self, folder: Path, allow_subset: bool) -> list[str]:
        assert self.spec is not None
        files = [p.name for p in list_images(folder)]
        if not files or (len(files) != self.spec.count and not allow_subset):
            raise TestSetError(
                f"test set {self.name!r} at {folder} holds {len(files)} images, expected "
                f"{self.spec.count}. To get it: {self.spec.how_to_get}."
                + (" Pass allow_subset=True to evaluate on the images present." if files else "")
            )
        if len(files) != self.spec.count:
            self.is_subset = True
            logger.warning(
                "test set %s: %d of %d images; results are not comparable with published numbers",
                self.name,
                len(files),
                self.spec.count,
            )
        logger.warning("test set %s: no checksums are known for it; only the image count was checked", self.name)
        return files

    def __len__(self) -> int:
        return len(self.files)

    def _load_uint8(self, index: int) -> torch.Tensor:
        fname = self.files[index]
        if fname in self._cache:
            return self._cache[fname]
        if self.root is None:
            img = dict(builtin_images_uint8("test"))[fname]
        else:
            img = decode_image_uint8(self.root / fname)
            if self._records is not None:
                r = self._records[index]
                if (img.shape[2], img.shape[1]) != (r.width, r.height):
                    raise TestSetError(
                        f"{self.root / fname}: {img.shape[2]}x{img.shape[1]} pixels, "
                        f"expected {r.width}x{r.height} (the file changed since it was checked?)"
                    )
        if self.cache_images:
            self._cache[fname] = img
        return img

    def __getitem__(self, index: int) -> tuple[str, torch.Tensor]:
        """``(file_name, (3, H, W) float32 in [0, 1])`` for image ``index`` (a new tensor)."""
        return self.files[index], uint8_to_float(self._load_uint8(index))

    def __iter__(self) -> Iterator[tuple[str, torch.Tensor]]:
        for i in range(len(self.files)):
            yield self[i]

    def __repr__(self) -> str:
        sub = ", subset" if self.is_subset else ""
        return f"TestSet({self.name!r}, images={len(self)}, root={str(self.root) if self.root else None!r}{sub})"
