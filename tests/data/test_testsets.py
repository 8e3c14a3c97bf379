from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import dil_optim.data.testsets as testsets_mod
import dil_optim.data.verify as verify_mod
from dil_optim.data import FileRecord, TestSet, TestSetError, builtin_images, manifest


def _pixels_sha(arr: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()


def make_set(folder: Path, n: int = 5, seed: int = 0) -> list[FileRecord]:
    """Write n random PNGs and return the manifest that describes them."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        arr = rng.integers(0, 256, size=(12 + i, 16, 3), dtype=np.uint8)
        path = folder / f"im{i + 1}.png"
        Image.fromarray(arr).save(path)
        data = path.read_bytes()
        records.append(FileRecord(path.name, 16, 12 + i, len(data), hashlib.sha256(data).hexdigest(),
                                  _pixels_sha(arr)))
    return records


@pytest.fixture
def fake_set5(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[FileRecord]]:
    root = tmp_path / "root"
    records = make_set(root / "Set5")
    monkeypatch.setattr(testsets_mod, "manifest", lambda name: tuple(records))
    return root, records


@pytest.fixture
def hash_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = verify_mod.file_sha256

    def counting(path):  # type: ignore[no-untyped-def]
        calls.append(Path(path).name)
        return real(path)

    monkeypatch.setattr(verify_mod, "file_sha256", counting)
    return calls


def test_complete_set_iterates_in_manifest_order(fake_set5) -> None:
    root, records = fake_set5
    ts = TestSet("Set5", root)
    assert len(ts) == 5 and ts.files == [r.file for r in records] and not ts.is_subset
    for (name, x), r in zip(ts, records):
        assert name == r.file and x.shape == (3, r.height, r.width) and x.dtype == torch.float32
        ref = np.asarray(Image.open(root / "Set5" / name))
        assert torch.equal(x, torch.from_numpy(ref.copy()).permute(2, 0, 1).float() / 255)
    a, b = ts[0][1], ts[0][1]
    assert torch.equal(a, b) and a.data_ptr() != b.data_ptr()  # cached, but fresh tensors


def test_verification_is_recorded_and_reused(fake_set5, hash_calls, isolated_cache: Path) -> None:
    root, _ = fake_set5
    TestSet("Set5", root)
    assert len(hash_calls) == 5
    assert (isolated_cache / "dil_optim" / "verified-v1.json").is_file()
    TestSet("Set5", root)
    assert len(hash_calls) == 5  # nothing re-hashed
    TestSet("Set5", root, verify="full")
    assert len(hash_calls) == 10
    TestSet("Set5", root, verify="none")
    assert len(hash_calls) == 10


def test_changed_file_is_rehashed_and_fails(fake_set5, hash_calls) -> None:
    root, records = fake_set5
    TestSet("Set5", root)
    path = root / "Set5" / "im2.png"
    Image.fromarray(np.zeros((13, 16, 3), np.uint8)).save(path)
    os.utime(path, ns=(1, 1))
    with pytest.raises(TestSetError) as err:
        TestSet("Set5", root)
    msg = str(err.value)
    assert "im2.png" in msg and records[1].sha256 in msg and hashlib.sha256(path.read_bytes()).hexdigest() in msg
    assert "download_test_set('Set5'" in msg
    assert hash_calls.count("im2.png") == 2


def test_lossless_reencoding_passes_by_pixels(fake_set5, caplog: pytest.LogCaptureFixture) -> None:
    root, records = fake_set5
    path = root / "Set5" / "im3.png"
    arr = np.asarray(Image.open(path)).copy()
    Image.fromarray(arr).save(path, compress_level=0)
    assert hashlib.sha256(path.read_bytes()).hexdigest() != records[2].sha256
    with caplog.at_level(logging.INFO, logger="dil_optim.data.verify"):
        ts = TestSet("Set5", root)
    assert any("pixels match" in r.message for r in caplog.records)
    assert torch.equal(ts[2][1], torch.from_numpy(arr).permute(2, 0, 1).float() / 255)


def test_missing_files_give_one_message(fake_set5) -> None:
    root, _ = fake_set5
    (root / "Set5" / "im4.png").unlink()
    (root / "Set5" / "im5.png").unlink()
    with pytest.raises(TestSetError, match=r"2 of 5 files missing \(im4.png, im5.png\).*allow_subset=True"):
        TestSet("Set5", root)


def test_subset_allowed_with_warning(fake_set5, caplog: pytest.LogCaptureFixture) -> None:
    root, _ = fake_set5
    (root / "Set5" / "im1.png").unlink()
    with caplog.at_level(logging.WARNING, logger="dil_optim.data.testsets"):
        ts = TestSet("Set5", root, allow_subset=True)
    assert ts.is_subset and ts.files == ["im2.png", "im3.png", "im4.png", "im5.png"]
    assert any("SUBSET of 4 of 5" in r.message and "not comparable" in r.message for r in caplog.records)
    assert "subset" in repr(ts)


def test_subset_still_verifies_checksums(fake_set5) -> None:
    root, _ = fake_set5
    (root / "Set5" / "im1.png").unlink()
    (root / "Set5" / "im2.png").write_bytes(b"garbage")
    with pytest.raises(TestSetError, match=r"1 file\(s\) fail their checksum: im2.png.*does not decode"):
        TestSet("Set5", root, allow_subset=True)
    for f in (root / "Set5").iterdir():
        f.unlink()
    with pytest.raises(TestSetError, match="5 of 5 files missing"):
        TestSet("Set5", root, allow_subset=True)


def test_extra_files_are_ignored(fake_set5) -> None:
    root, _ = fake_set5
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(root / "Set5" / "zzz.png")
    assert "zzz.png" not in TestSet("Set5", root).files


def test_absent_set_names_roots_and_how_to_get(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIL_OPTIM_DATA", str(tmp_path / "env"))
    with pytest.raises(FileNotFoundError) as err:
        TestSet("Kodak24", tmp_path / "arg")
    msg = str(err.value)
    assert isinstance(err.value, TestSetError)
    assert str(tmp_path / "arg") in msg and str(tmp_path / "env") in msg and "dil_optim/datasets" in msg
    assert "24 files (kodim01.png .. kodim24.png)" in msg and "download_test_set('Kodak24'" in msg
    with pytest.raises(ValueError, match="unknown test set"):
        TestSet("Set6")
    with pytest.raises(ValueError, match="verify"):
        TestSet("Set5", verify="sometimes")  # type: ignore[arg-type]


def test_data_root_takes_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    arg_records = make_set(tmp_path / "arg" / "Set5", seed=1)
    make_set(tmp_path / "env" / "Set5", seed=2)
    monkeypatch.setattr(testsets_mod, "manifest", lambda name: tuple(arg_records))
    monkeypatch.setenv("DIL_OPTIM_DATA", str(tmp_path / "env"))
    assert TestSet("Set5", tmp_path / "arg").root == tmp_path / "arg" / "Set5"
    with pytest.raises(TestSetError, match="checksum"):  # env copy has other content
        TestSet("Set5")


def test_pixel_size_rechecked_when_not_verifying(fake_set5) -> None:
    root, _ = fake_set5
    Image.fromarray(np.zeros((30, 30, 3), np.uint8)).save(root / "Set5" / "im1.png")
    ts = TestSet("Set5", root, verify="none")
    with pytest.raises(TestSetError, match="30x30 pixels, expected 16x12"):
        ts[0]


def test_manga109_checks_count_only(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "Manga109"
    folder.mkdir()
    tiny = Image.fromarray(np.zeros((4, 3, 3), np.uint8))
    for i in range(3):
        tiny.save(folder / f"Title{i}.png")
    with pytest.raises(TestSetError, match="holds 3 images, expected 109.*manga109.org"):
        TestSet("Manga109", tmp_path)
    with caplog.at_level(logging.WARNING, logger="dil_optim.data.testsets"):
        ts = TestSet("manga109", tmp_path, allow_subset=True)
    assert ts.is_subset and len(ts) == 3 and ts[0][1].shape == (3, 4, 3)
    assert any("no checksums" in r.message for r in caplog.records)
    for i in range(3, 109):
        tiny.save(folder / f"Title{i}.png")
    ts = TestSet("Manga109", tmp_path)
    assert len(ts) == 109 and not ts.is_subset


def test_builtin_is_the_builtin_test_split() -> None:
    pytest.importorskip("skimage")
    ts = TestSet("builtin")
    got = list(ts)
    ref = builtin_images("test")
    assert [n for n, _ in got] == [n for n, _ in ref] and ts.root is None
    assert all(torch.equal(a, b) for (_, a), (_, b) in zip(got, ref))


# --- on the real images, when they are on this machine -----------------------------------

def test_real_set5_and_grayscale_set14(shared_datasets: Path) -> None:
    ts = TestSet("Set5", shared_datasets, verify="full")
    assert ts.files == ["baby.png", "bird.png", "butterfly.png", "head.png", "woman.png"]
    assert ts[4][1].shape == (3, 344, 228)
    set14 = TestSet("Set14", shared_datasets)
    i = set14.files.index("bridge.png")
    x = set14[i][1]
    assert x.shape == (3, 512, 512) and torch.equal(x[0], x[1]) and torch.equal(x[0], x[2])


def test_real_urban100_is_a_known_subset(shared_datasets: Path) -> None:
    assert len(manifest("Urban100")) == 100
    with pytest.raises(TestSetError, match=r"25 of 100 files missing \(img_076.png"):
        TestSet("Urban100", shared_datasets)
    ts = TestSet("Urban100", shared_datasets, allow_subset=True)
    assert ts.is_subset and len(ts) == 75 and ts.files[-1] == "img_075.png"
