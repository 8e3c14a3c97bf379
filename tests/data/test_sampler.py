from __future__ import annotations

import io
import logging
from collections import Counter

import numpy as np
import pytest
import torch

from dil_optim.data import ImageFolder, PatchSampler, dihedral


def coord_image(h: int, w: int) -> torch.Tensor:
    """(3, H, W) uint8 whose pixel (r, c) is (r, c, 7): every crop position is recoverable."""
    assert h <= 256 and w <= 256
    r = torch.arange(h).view(h, 1).expand(h, w)
    c = torch.arange(w).view(1, w).expand(h, w)
    return torch.stack([r, c, torch.full((h, w), 7)]).to(torch.uint8)


def locate(patch_u8: torch.Tensor, img: torch.Tensor) -> tuple[int, int, int]:
    """(top, left, k) such that dihedral(img crop at top, left, k) == patch; fails otherwise."""
    p = patch_u8.shape[-1]
    top, left = int(patch_u8[0].min()), int(patch_u8[1].min())
    crop = img[:, top:top + p, left:left + p]
    ks = [k for k in range(8) if torch.equal(dihedral(crop, k), patch_u8)]
    assert len(ks) == 1, "patch is not a dihedral transform of a crop"
    return top, left, ks[0]


def to_u8(batch: torch.Tensor) -> torch.Tensor:
    u8 = (batch * 255).round().to(torch.uint8)
    assert torch.equal(u8.float() / 255, batch)  # float output is exactly k/255
    return u8


def test_dihedral_is_the_group_of_the_square() -> None:
    x = torch.arange(6.0).view(1, 2, 3)  # non-square, no symmetry
    outs = [dihedral(x, k) for k in range(8)]
    a = x[0].numpy()
    expected = [np.rot90(a, k) for k in range(4)] + [np.rot90(np.fliplr(a), k) for k in range(4)]
    for o, e in zip(outs, expected):
        np.testing.assert_array_equal(o[0].numpy(), e)
    sq = torch.arange(9.0).view(1, 3, 3)
    assert len({tuple(dihedral(sq, k).flatten().tolist()) for k in range(8)}) == 8
    with pytest.raises(ValueError):
        dihedral(x, 8)


def test_batches_are_crops_with_uniform_augmentations_and_positions() -> None:
    img = coord_image(40, 60)
    s = PatchSampler([img], patch_size=8, batch_size=500, generator=torch.Generator().manual_seed(3))
    tops, lefts, ks = [], [], []
    for _ in range(8):
        batch = s.next()
        assert batch.shape == (500, 3, 8, 8) and batch.dtype == torch.float32
        for patch in to_u8(batch):
            t, l, k = locate(patch, img)
            tops.append(t), lefts.append(l), ks.append(k)
    n = len(ks)
    counts = Counter(ks)
    assert sorted(counts) == list(range(8))
    # each of 8 outcomes ~ Binomial(4000, 1/8): mean 500, sd 21
    assert all(abs(c - n / 8) < 5 * np.sqrt(n / 8 * 7 / 8) for c in counts.values())
    assert min(tops) == 0 and max(tops) == 32 and min(lefts) == 0 and max(lefts) == 52
    assert abs(np.mean(tops) - 16) < 0.6 and abs(np.mean(lefts) - 26) < 0.9  # uniform means (sd 0.15, 0.24)


def test_no_augment_gives_plain_crops_and_images_drawn_uniformly() -> None:
    imgs = [coord_image(20, 20), coord_image(30, 30) // 2 * 2 + 0]  # two distinguishable images
    imgs[1][2] = 9  # blue channel tags image 1
    s = PatchSampler([("a", imgs[0]), ("b", imgs[1])], 16, 1000, augment=False, seed=5)
    batch = to_u8(s.next())
    which = batch[:, 2, 0, 0]
    assert set(which.tolist()) == {7, 9}
    assert abs(int((which == 9).sum()) - 500) < 5 * np.sqrt(250)  # uniform over images, not area
    for patch in batch[which == 7][:50]:
        assert locate(patch, imgs[0])[2] == 0


def test_seeded_reproducible_and_global_rng_untouched() -> None:
    img = coord_image(50, 50)
    before = torch.get_rng_state()
    a = [PatchSampler([img], 12, 4, seed=1).next() for _ in range(2)]
    b = PatchSampler([img], 12, 4, generator=torch.Generator().manual_seed(1)).next()
    c = PatchSampler([img], 12, 4, seed=2).next()
    assert torch.equal(a[0], a[1]) and torch.equal(a[0], b) and not torch.equal(a[0], c)
    assert torch.equal(before, torch.get_rng_state())


def test_state_dict_resumes_the_same_patches() -> None:
    imgs = [coord_image(64, 48), coord_image(33, 70)]
    s = PatchSampler(imgs, 16, 6, seed=11)
    for _ in range(3):
        s.next()
    buf = io.BytesIO()
    torch.save(s.state_dict(), buf)
    expected = [s.next() for _ in range(3)]
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    t = PatchSampler(imgs, 16, 6, seed=999)
    t.load_state_dict(state)
    assert t.batches_drawn == 3
    for e in expected:
        assert torch.equal(t.next(), e)


def test_load_state_dict_rejects_other_configuration_and_keeps_state() -> None:
    img = coord_image(40, 40)
    s = PatchSampler([img], 16, 6, seed=0)
    s.next()
    bad = PatchSampler([img], 8, 6).state_dict()
    saved = s.generator.get_state().clone()
    with pytest.raises(ValueError, match="patch_size"):
        s.load_state_dict(bad)
    with pytest.raises(ValueError, match="image_sizes"):
        s.load_state_dict(PatchSampler([coord_image(41, 40)], 16, 6).state_dict())
    with pytest.raises(ValueError, match="missing"):
        s.load_state_dict({"patch_size": 16})
    assert torch.equal(s.generator.get_state(), saved) and s.batches_drawn == 1


def test_small_images_skipped_with_warning(caplog: pytest.LogCaptureFixture) -> None:
    big, small = coord_image(32, 32), coord_image(10, 40)
    with caplog.at_level(logging.WARNING, logger="dil_optim.data.sampler"):
        s = PatchSampler([("big", big), ("tiny", small)], 16, 64, augment=False)
    assert len(s) == 1 and s.names == ["big"]
    assert any("tiny (40x10)" in r.message for r in caplog.records)
    for patch in to_u8(s.next()):
        locate(patch, big)
    with pytest.raises(ValueError, match="no image is at least 16x16"):
        PatchSampler([small], 16, 4)


def test_float_inputs_and_validation() -> None:
    img = torch.rand(3, 20, 20, generator=torch.Generator().manual_seed(0))
    copy = img.clone()
    s = PatchSampler([img], 20, 1, augment=False)
    out = s.next()[0]
    assert torch.allclose(out, img, atol=0.5 / 255 + 1e-7)  # stored as 8 bits
    assert torch.equal(img, copy)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        PatchSampler([img * 2], 4, 1)
    with pytest.raises(ValueError, match=r"\(3, H, W\)"):
        PatchSampler([torch.rand(1, 20, 20)], 4, 1)
    with pytest.raises(TypeError):
        PatchSampler([torch.zeros(3, 20, 20, dtype=torch.int32)], 4, 1)
    with pytest.raises(ValueError, match="patch_size"):
        PatchSampler([img], 0, 1)
    with pytest.raises(ValueError, match="batch_size"):
        PatchSampler([img], 4, True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one"):
        PatchSampler([], 4, 1)
    with pytest.raises(TypeError):
        PatchSampler(img, 4, 1)  # type: ignore[arg-type]


def test_image_folder_storage_is_shared(tmp_path) -> None:
    from PIL import Image
    arr = coord_image(30, 30).permute(1, 2, 0).numpy()
    Image.fromarray(np.ascontiguousarray(arr)).save(tmp_path / "a.png")
    folder = ImageFolder(tmp_path)
    s = PatchSampler(folder, 8, 2)
    assert s._images[0].data_ptr() == folder.uint8(0).data_ptr()
    assert next(iter(s)).shape == (2, 3, 8, 8)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_device_output_equals_cpu() -> None:
    img = coord_image(40, 40)
    a = PatchSampler([img], 8, 4, seed=0).next()
    b = PatchSampler([img], 8, 4, seed=0, device="cuda").next()
    assert b.device.type == "cuda" and torch.equal(a, b.cpu())
    with pytest.raises(ValueError, match="CPU generator"):
        PatchSampler([img], 8, 4, generator=torch.Generator(device="cuda"))
