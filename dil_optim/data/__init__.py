"""Data for dil-optim: image files, patch sampling, standard test sets, built-in default images.

See ``docs/data.md`` for the data-root layout, the test-set registry and the built-in split.
"""

from __future__ import annotations

from .builtin import BUILTIN_TEST, BUILTIN_TRAIN, builtin_images
from .downloader import ChecksumError, DownloadError, download, download_test_set
from .images import IMAGE_EXTENSIONS, ImageFolder, load_image
from .registry import (
    DATA_ENV_VAR,
    FileRecord,
    TestSetSpec,
    candidate_roots,
    default_cache_root,
    known_test_sets,
    lookup_test_set,
    manifest,
)
from .sampler import PatchSampler, dihedral
from .testsets import TestSet, TestSetError

__all__ = [
    "BUILTIN_TEST",
    "BUILTIN_TRAIN",
    "ChecksumError",
    "DATA_ENV_VAR",
    "DownloadError",
    "FileRecord",
    "IMAGE_EXTENSIONS",
    "ImageFolder",
    "PatchSampler",
    "TestSet",
    "TestSetError",
    "TestSetSpec",
    "builtin_images",
    "candidate_roots",
    "default_cache_root",
    "dihedral",
    "download",
    "download_test_set",
    "known_test_sets",
    "load_image",
    "manifest",
    "lookup_test_set",
]
