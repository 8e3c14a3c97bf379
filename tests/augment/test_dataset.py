"""Folder-of-pairs confounders: pairing rules, clear errors, aligned crops."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dil_optim.augment import PairedFolder, folder_confounders

from ._helpers import gen


def _write(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def _make_set(root: Path, names: list[str], *, size: tuple[int, int] = (20, 24), seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for nm in names:
        clean = rng.integers(0, 256, size=(*size, 3), dtype=np.uint8)
        _write(root / "target" / f"{nm}.png", clean)
        _write(root / "input" / f"{nm}.png", 255 - clean)  # "degraded" = negative: checks alignment


def test_pairs_by_stem_and_aligned_crops(tmp_path: Path) -> None:
    _make_set(tmp_path / "rainA", ["a", "b", "c"])
    folder = PairedFolder(tmp_path / "rainA")
    assert len(folder) == 3 and folder.name == "rainA"
    deg, clean = folder.sample(6, 8, gen(0))
    assert deg.shape == clean.shape == (6, 3, 8, 8) and deg.dtype == torch.float32
    torch.testing.assert_close(deg + clean, torch.ones_like(deg))  # the same crop of both images
    deg2, _ = folder.sample(6, 8, gen(0))
    assert torch.equal(deg, deg2)
    assert not torch.equal(deg, folder.sample(6, 8, gen(1))[0])
    d, c = folder.pair(0)
    assert d.shape == (3, 20, 24)


def test_custom_pairing_many_degraded_per_clean(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    clean = rng.integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
    _write(tmp_path / "norain" / "1.png", clean)
    for k in (1, 2, 3):
        _write(tmp_path / "rain" / f"1_{k}.png", 255 - clean)
    folder = PairedFolder(tmp_path, degraded_dir="rain", clean_dir="norain",
                          clean_name=lambda f: f.split("_")[0] + ".png")
    assert len(folder) == 3


def test_missing_folder_and_missing_partner_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not found"):
        PairedFolder(tmp_path / "nope")
    _make_set(tmp_path / "s", ["a", "b"])
    (tmp_path / "s" / "target" / "b.png").unlink()
    with pytest.raises(FileNotFoundError, match="b.png"):
        PairedFolder(tmp_path / "s")
    (tmp_path / "empty" / "input").mkdir(parents=True)
    (tmp_path / "empty" / "target").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no images"):
        PairedFolder(tmp_path / "empty")


def test_unpaired_clean_images_are_reported(tmp_path: Path) -> None:
    _make_set(tmp_path / "s", ["a", "b"])
    (tmp_path / "s" / "input" / "a.png").unlink()
    with pytest.raises(ValueError, match="a.png"):
        PairedFolder(tmp_path / "s")
    assert len(PairedFolder(tmp_path / "s", require_all_clean=False)) == 1


def test_size_mismatch_and_small_images_raise(tmp_path: Path) -> None:
    _make_set(tmp_path / "s", ["a"])
    _write(tmp_path / "s" / "input" / "a.png", np.zeros((10, 10, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="unpaired sizes"):
        PairedFolder(tmp_path / "s").pair(0)
    _make_set(tmp_path / "t", ["a"], size=(6, 6))
    with pytest.raises(ValueError, match="smaller than the patch"):
        PairedFolder(tmp_path / "t").sample(1, 8)
    with pytest.raises(ValueError, match="batch_size"):
        PairedFolder(tmp_path / "t").sample(0, 4)


def test_undecodable_file_raises(tmp_path: Path) -> None:
    _make_set(tmp_path / "s", ["a"])
    (tmp_path / "s" / "input" / "a.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="cannot decode"):
        PairedFolder(tmp_path / "s").pair(0)


def test_folder_confounders_make_an_independent_set(tmp_path: Path) -> None:
    for i, nm in enumerate(("rain14000", "didmdn", "heavy")):
        _make_set(tmp_path / nm, ["x", "y"], seed=i)
    cs = folder_confounders({nm: tmp_path / nm for nm in ("rain14000", "didmdn", "heavy")})
    assert cs.names == ["rain14000", "didmdn", "heavy"] and cs.content == "independent"
    pairs = cs(torch.zeros(6, 3, 8, 8), gen(2))
    assert len(pairs) == 3
    for deg, clean in pairs:
        assert deg.shape == clean.shape == (2, 3, 8, 8)
        torch.testing.assert_close(deg + clean, torch.ones_like(deg))
