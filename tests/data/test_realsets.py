"""Paired real sets: loaders on tiny generated folders in each set's published layout; the DND writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
from realsets_fixtures import make_derain, make_dnd, make_drealsr, make_realsr_v3, make_sidd

from dil_optim.data import TestSet, TestSetError, known_test_sets, lookup_test_set
from dil_optim.data.realsets import is_paired, load_paired_set, sr_scale, write_dnd_submission

REAL = ("SIDD", "DND", "RealSRV3", "DRealSR", "Rain100L", "Rain12", "Rain800")


def test_every_real_set_is_registered_with_source_and_count() -> None:
    for name in REAL:
        spec = lookup_test_set(name)
        assert name in known_test_sets() and spec.paired and spec.count > 0
        assert "http" in spec.how_to_get and "folder named above" in spec.how_to_get
    assert sr_scale("RealSRV3") == sr_scale("DRealSR") == 4 and sr_scale("SIDD") == 1
    assert is_paired("Rain800") and is_paired("test100") and not is_paired("CBSD68") and not is_paired("nope")


@pytest.mark.parametrize("name", REAL)
def test_absent_set_one_clear_message(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("DIL_OPTIM_DATA", raising=False)
    with pytest.raises(TestSetError) as err:
        load_paired_set(name, tmp_path)
    msg = str(err.value)
    assert f"no folder {name}/" in msg and str(tmp_path) in msg and "To get it:" in msg and "http" in msg
    assert str(lookup_test_set(name).count) in msg


def test_sidd_blocks(tmp_path: Path) -> None:
    make_sidd(tmp_path, images=2, blocks=3)
    s = load_paired_set("SIDD", tmp_path)
    assert len(s) == 6 and s.subset and s.scale == 1
    name, noisy, clean = s.items[4]
    assert name == "0002_02" and noisy.shape == clean.shape == (3, 32, 32)
    assert clean is not None and 0 < float((noisy - clean).abs().mean()) < 0.1
    assert len(load_paired_set("SIDD", tmp_path, images=2)) == 2
    with pytest.raises(TestSetError, match="paired real set"):
        TestSet("SIDD", tmp_path)


def test_sidd_missing_file(tmp_path: Path) -> None:
    make_sidd(tmp_path)
    (tmp_path / "SIDD" / "ValidationGtBlocksSrgb.mat").unlink()
    with pytest.raises(TestSetError, match="missing ValidationGtBlocksSrgb.mat"):
        load_paired_set("SIDD", tmp_path)


def test_dnd_crops_and_submission_layout(tmp_path: Path) -> None:
    make_dnd(tmp_path, images=2, size=16)
    s = load_paired_set("DND", tmp_path)
    assert len(s) == 40 and all(c is None for _, _, c in s.items)
    assert s.items[6][1].shape == (3, 16, 16) and s.meta["where"][6] == (1, 7)
    # box 7 of image 1: rows 17..32, cols 17..32 (1-based, inclusive)
    img = scipy.io.loadmat(str(tmp_path / "DND" / "images_srgb" / "0001.mat"))["InoisySRGB"]
    torch.testing.assert_close(s.items[6][1], torch.from_numpy(img[16:32, 16:32]).permute(2, 0, 1))
    out = write_dnd_submission(tmp_path / "sub", {w: x for w, (_, x, _) in zip(s.meta["where"], s.items)})
    m = scipy.io.loadmat(str(out / "0002.mat"))
    assert sorted(p.name for p in out.iterdir()) == ["0001.mat", "0002.mat"]
    assert m["Idenoised"].shape == (1, 20) and m["Idenoised"][0, 3].shape == (16, 16, 3)
    assert not bool(m["israw"]) and str(m["eval_version"][0]) == "1.0"
    np.testing.assert_allclose(m["Idenoised"][0, 0], s.items[20][1].permute(1, 2, 0).numpy())


def test_realsr_v3_pairs(tmp_path: Path) -> None:
    make_realsr_v3(tmp_path, per_camera=2, size=64)
    s = load_paired_set("RealSRV3", tmp_path)
    assert [n for n, _, _ in s.items] == ["Canon_001", "Canon_002", "Nikon_001", "Nikon_002"]
    assert s.items[0][1].shape == (3, 16, 16) and s.items[0][2] is not None and s.items[0][2].shape == (3, 64, 64)
    assert s.scale == 4 and s.subset


def test_realsr_same_size_lr_is_refused(tmp_path: Path) -> None:
    d = make_realsr_v3(tmp_path, per_camera=1)
    hr = d / "Canon" / "Test" / "4" / "Canon_001_HR.png"
    (d / "Canon" / "Test" / "4" / "Canon_001_LR4.png").write_bytes(hr.read_bytes())
    with pytest.raises(TestSetError, match="version 3"):
        load_paired_set("RealSRV3", tmp_path)


def test_drealsr_pairs(tmp_path: Path) -> None:
    make_drealsr(tmp_path, n=3)
    s = load_paired_set("DRealSR", tmp_path)
    assert [n for n, _, _ in s.items] == ["DSC_0000", "DSC_0001", "DSC_0002"]
    assert s.items[1][1].shape == (3, 16, 16) and s.items[1][2] is not None and s.items[1][2].shape == (3, 64, 64)


@pytest.mark.parametrize(("name", "layout"), [("Rain100L", "input/target"), ("Rain12", "rainy/norain"),
                                              ("Rain800", "prefix")])
def test_derain_layouts(name: str, layout: str, tmp_path: Path) -> None:
    make_derain(tmp_path, name, n=3, layout=layout)
    s = load_paired_set(name, tmp_path)
    assert len(s) == 3 and s.subset
    _, rainy, clean = s.items[0]
    assert clean is not None and rainy.shape == clean.shape and bool((rainy >= clean - 1e-6).all())


def test_derain_no_pairs(tmp_path: Path) -> None:
    (tmp_path / "Rain12" / "input").mkdir(parents=True)
    with pytest.raises(TestSetError, match="no \\(rainy, clean\\) pairs"):
        load_paired_set("Rain12", tmp_path)
