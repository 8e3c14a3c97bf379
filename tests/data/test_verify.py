from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from dil_optim.data.verify import VerificationRecord, file_sha256, pixels_sha256, write_atomic


def test_file_sha256_matches_hashlib(tmp_path: Path) -> None:
    data = bytes(np.random.default_rng(0).integers(0, 256, 3 * (1 << 20) + 17, dtype=np.uint8))
    (tmp_path / "f").write_bytes(data)
    assert file_sha256(tmp_path / "f") == hashlib.sha256(data).hexdigest()


def test_pixels_sha256_is_over_hwc_bytes() -> None:
    hwc = np.random.default_rng(1).integers(0, 256, (4, 5, 3), dtype=np.uint8)
    chw = torch.from_numpy(hwc.copy()).permute(2, 0, 1).contiguous()
    assert pixels_sha256(chw) == hashlib.sha256(hwc.tobytes()).hexdigest()
    with pytest.raises(ValueError, match="uint8"):
        pixels_sha256(chw.float())


def test_write_atomic_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "x.json"
    write_atomic(target, b"one")
    write_atomic(target, b"two")
    assert target.read_bytes() == b"two" and os.listdir(target.parent) == ["x.json"]


def test_record_persists_and_invalidates(tmp_path: Path) -> None:
    f = tmp_path / "img.png"
    f.write_bytes(b"abc")
    rec_path = tmp_path / "cache" / "verified.json"
    rec = VerificationRecord(rec_path)
    st = f.stat()
    assert not rec.is_verified(f, st, "e" * 64)
    rec.add(f, st, "e" * 64, "file")
    rec.save()
    again = VerificationRecord(rec_path)
    assert again.is_verified(f, st, "e" * 64)
    assert not again.is_verified(f, st, "d" * 64)  # another expected checksum
    f.write_bytes(b"abcd")
    assert not again.is_verified(f, f.stat(), "e" * 64)  # size changed
    f.write_bytes(b"abc")
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert not again.is_verified(f, f.stat(), "e" * 64)  # mtime changed


def test_record_tolerates_bad_file_and_unwritable_folder(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    rec = VerificationRecord(bad)
    f = tmp_path / "x"
    f.write_bytes(b"1")
    assert not rec.is_verified(f, f.stat(), "e" * 64)
    blocker = tmp_path / "file_not_dir"
    blocker.write_text("")
    rec = VerificationRecord(blocker / "verified.json")  # parent is a file: cannot be created
    rec.add(f, f.stat(), "e" * 64, "file")
    rec.save()  # logged, not raised
