"""Fixtures for the data tests: an isolated cache/env, and the optional shared image folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def shared_datasets_dir() -> Path | None:
    """``$DIL_OPTIM_TEST_DATASETS`` or ``<repo>/../shared/datasets`` if it holds MANIFEST.tsv."""
    env = os.environ.get("DIL_OPTIM_TEST_DATASETS")
    path = Path(env) if env else REPO.parent / "shared" / "datasets"
    return path if (path / "MANIFEST.tsv").is_file() else None


@pytest.fixture
def shared_datasets() -> Path:
    path = shared_datasets_dir()
    if path is None:
        pytest.skip("real images not available (set DIL_OPTIM_TEST_DATASETS or provide ../shared/datasets)")
    return path


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every data test gets its own XDG cache (verification record, default data root) and no
    ``$DIL_OPTIM_DATA``, so nothing reads or writes the user's real cache."""
    cache = tmp_path_factory.mktemp("xdg_cache")
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.delenv("DIL_OPTIM_DATA", raising=False)
    return cache
