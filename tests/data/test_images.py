from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dil_optim.data import ImageFolder, load_image
from dil_optim.data.images import decode_image_uint8, list_images, natural_key


def _rgb(h: int = 17, w: int = 23, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("ext,fmt", [(".png", "PNG"), (".bmp", "BMP"), (".tif", "TIFF"), (".tiff", "TIFF")])
def test_lossless_formats_round_trip_exactly(tmp_path: Path, ext: str, fmt: str) -> None:
    arr = _rgb()
    path = tmp_path / f"img{ext}"
    Image.fromarray(arr).save(path, format=fmt)
    x = load_image(path)
    assert x.shape == (3, 17, 23) and x.dtype == torch.float32
    expected = torch.from_numpy(arr).permute(2, 0, 1).float() / 255
    assert torch.equal(x, expected)
    assert torch.equal(decode_image_uint8(path), torch.from_numpy(arr).permute(2, 0, 1))


def test_jpeg_decodes_like_pillow(tmp_path: Path) -> None:
    path = tmp_path / "a.jpeg"
    Image.fromarray(_rgb(32, 40)).save(path, quality=80)
    ref = np.asarray(Image.open(path).convert("RGB"))
    x = load_image(path)
    assert torch.equal(x, torch.from_numpy(ref.copy()).permute(2, 0, 1).float() / 255)


def test_grayscale_promoted_with_a_logged_note(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    gray = _rgb()[..., 0]
    path = tmp_path / "g.png"
    Image.fromarray(gray, mode="L").save(path)
    with caplog.at_level(logging.INFO, logger="dil_optim.data.images"):
        x = load_image(path)
    assert x.shape == (3, 17, 23)
    assert torch.equal(x[0], x[1]) and torch.equal(x[1], x[2])
    assert torch.equal(x[0], torch.from_numpy(gray).float() / 255)
    assert any("grayscale" in r.message and "g.png" in r.message for r in caplog.records)


def test_sixteen_bit_grayscale(tmp_path: Path) -> None:
    vals = np.array([[0, 257, 65535], [1000, 30000, 65534]], dtype=np.uint16)
    path = tmp_path / "g16.png"
    Image.fromarray(vals).save(path)
    x = load_image(path)
    assert x.shape == (3, 2, 3)
    np.testing.assert_allclose(x[0].numpy(), vals / 65535.0, rtol=0, atol=1e-7)
    u8 = decode_image_uint8(path)
    assert u8[0].tolist() == np.rint(vals / 65535.0 * 255).astype(int).tolist()


def test_alpha_dropped_with_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rgba = np.concatenate([_rgb(), np.full((17, 23, 1), 7, np.uint8)], axis=2)
    path = tmp_path / "a.png"
    Image.fromarray(rgba, mode="RGBA").save(path)
    with caplog.at_level(logging.WARNING, logger="dil_optim.data.images"):
        x = decode_image_uint8(path)
    assert torch.equal(x, torch.from_numpy(rgba[..., :3].copy()).permute(2, 0, 1))
    assert any("alpha" in r.message for r in caplog.records)


def test_palette_image_converted(tmp_path: Path) -> None:
    im = Image.fromarray(_rgb()).convert("P")
    path = tmp_path / "p.png"
    im.save(path)
    x = decode_image_uint8(path)
    assert torch.equal(x, torch.from_numpy(np.asarray(im.convert("RGB")).copy()).permute(2, 0, 1))


def test_bytes_input_and_errors(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.fromarray(_rgb()).save(buf, format="PNG")
    assert torch.equal(load_image(buf.getvalue()), torch.from_numpy(_rgb()).permute(2, 0, 1).float() / 255)
    with pytest.raises(FileNotFoundError, match="nope.png"):
        load_image(tmp_path / "nope.png")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image at all")
    with pytest.raises(ValueError, match="bad.png"):
        load_image(bad)


def test_natural_key_orders_numbers() -> None:
    names = ["img_10.png", "img_2.png", "img_1.png", "Img_3.png"]
    assert sorted(names, key=natural_key) == ["img_1.png", "img_2.png", "Img_3.png", "img_10.png"]


def _make_folder(root: Path) -> list[np.ndarray]:
    arrs = [_rgb(10 + i, 12, seed=i) for i in range(3)]
    for i, (a, name) in enumerate(zip(arrs, ["im10.png", "im2.bmp", "im1.JPG"])):
        Image.fromarray(a).save(root / name, quality=95) if name.endswith("JPG") else Image.fromarray(a).save(root / name)
    (root / "notes.txt").write_text("not an image")
    (root / "sub").mkdir()
    Image.fromarray(_rgb(5, 5, seed=9)).save(root / "sub" / "deep.png")
    return arrs


def test_image_folder_decodes_once_in_natural_order(tmp_path: Path) -> None:
    arrs = _make_folder(tmp_path)
    folder = ImageFolder(tmp_path)
    assert folder.names == ["im1.JPG", "im2.bmp", "im10.png"]
    assert len(folder) == 3
    name, x = folder[2]
    assert name == "im10.png" and x.dtype == torch.float32
    assert torch.equal(x, torch.from_numpy(arrs[0]).permute(2, 0, 1).float() / 255)
    assert folder.uint8(1).dtype == torch.uint8
    assert torch.equal(folder.uint8(1), torch.from_numpy(arrs[1]).permute(2, 0, 1))
    # getitem returns fresh tensors: modifying one leaves the stored image alone
    x.zero_()
    assert folder[2][1].max() > 0
    assert folder.nbytes == sum(a.size for a in arrs)
    assert [n for n, _ in folder] == folder.names and len(folder[0:2]) == 2
    single = ImageFolder(tmp_path, num_workers=1)
    assert all(torch.equal(single.uint8(i), folder.uint8(i)) for i in range(3))


def test_image_folder_recursive_and_errors(tmp_path: Path) -> None:
    _make_folder(tmp_path)
    assert ImageFolder(tmp_path, recursive=True).names[-1] == "sub/deep.png"
    assert [p.name for p in list_images(tmp_path, extensions=(".png",))] == ["im10.png"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no images"):
        ImageFolder(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="not found"):
        ImageFolder(tmp_path / "missing")
    with pytest.raises(ValueError, match="num_workers"):
        ImageFolder(tmp_path, num_workers=0)
