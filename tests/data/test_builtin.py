from __future__ import annotations

import numpy as np
import pytest
import torch

from dil_optim.data import BUILTIN_TEST, BUILTIN_TRAIN, builtin_images

skdata = pytest.importorskip("skimage.data")


def test_splits_are_disjoint_and_cover_all() -> None:
    train = builtin_images("train")
    test = builtin_images("test")
    assert [n for n, _ in train] == list(BUILTIN_TRAIN)
    assert [n for n, _ in test] == list(BUILTIN_TEST)
    assert not set(BUILTIN_TRAIN) & set(BUILTIN_TEST)
    # the stereo pair stays on one side of the split
    assert {"motorcycle_left", "motorcycle_right"} <= set(BUILTIN_TRAIN)
    assert [n for n, _ in builtin_images("all")] == list(BUILTIN_TRAIN + BUILTIN_TEST)
    assert [n for n, _ in builtin_images()] == list(BUILTIN_TRAIN)  # default: train
    for _, x in train + test:
        assert x.dtype == torch.float32 and x.dim() == 3 and x.shape[0] == 3
        assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
        assert min(x.shape[1:]) >= 300


def test_pixels_equal_scikit_image() -> None:
    ref = {"astronaut": skdata.astronaut(), "coffee": skdata.coffee(), "retina": skdata.retina(),
           "motorcycle_right": skdata.stereo_motorcycle()[1]}
    got = dict(builtin_images("all"))
    for name, arr in ref.items():
        assert torch.equal(got[name], torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1).float() / 255), name


def test_each_call_returns_new_tensors() -> None:
    first = builtin_images("test")
    first[0][1].zero_()
    assert float(builtin_images("test")[0][1].max()) > 0


def test_bad_split() -> None:
    with pytest.raises(ValueError, match="split"):
        builtin_images("val")  # type: ignore[arg-type]
