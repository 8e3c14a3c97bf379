"""build_model: names, overrides, errors; every named model maps (N,3,H,W) -> (N,3,sH,sW)."""

from __future__ import annotations

import pytest
import torch

from dil_optim.models import MODEL_NAMES, DnCNN, RRDBNet, SwinIR, build_model, model_config


def test_names_are_the_contract():
    assert set(MODEL_NAMES) == {"rrdb", "rrdb_small", "swinir", "swinir_small", "dncnn"}


@pytest.mark.parametrize("name, cls", [("rrdb_small", RRDBNet), ("swinir_small", SwinIR),
                                       ("dncnn", DnCNN)])
def test_small_models_build_and_run(name, cls):
    model = build_model(name)
    assert type(model) is cls
    assert model(torch.rand(2, 3, 11, 7)).shape == (2, 3, 11, 7)


def test_paper_configs():
    cls, cfg = model_config("rrdb")
    assert cls is RRDBNet and (cfg["num_feat"], cfg["num_block"], cfg["num_grow_ch"], cfg["scale"]) == (64, 23, 32, 1)
    cls, cfg = model_config("swinir")
    assert cls is SwinIR and cfg["embed_dim"] == 180 and list(cfg["depths"]) == [6] * 6
    assert list(cfg["num_heads"]) == [6] * 6 and cfg["window_size"] == 8 and cfg["mlp_ratio"] == 2
    assert cfg["upscale"] == 1 and cfg["img_range"] == 1.0 and cfg["resi_connection"] == "1conv"
    cfg["embed_dim"] = 1  # a fresh dict each call: callers cannot corrupt the defaults
    assert model_config("swinir")[1]["embed_dim"] == 180


def test_overrides_are_forwarded():
    rrdb = build_model("rrdb", scale=4, num_block=1, num_feat=8, num_grow_ch=4)
    assert len(rrdb.body) == 1 and rrdb(torch.rand(1, 3, 3, 5)).shape == (1, 3, 12, 20)
    dn = build_model("dncnn", depth=3, residual=False)
    assert len([m for m in dn.modules() if isinstance(m, torch.nn.Conv2d)]) == 3 and not dn.residual
    assert build_model("swinir_small", window_size=4).window_size == 4


def test_errors():
    with pytest.raises(ValueError, match="rrdb, rrdb_small, swinir, swinir_small, dncnn"):
        build_model("edsr")
    with pytest.raises(TypeError, match=r"unknown override\(s\) \['num_blocks'\].*num_block"):
        build_model("rrdb_small", num_blocks=3)
    with pytest.raises(TypeError, match="str"):
        build_model(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="scale"):
        build_model("rrdb_small", scale=3)


def test_initialisation_follows_the_global_seed():
    torch.manual_seed(5)
    a = build_model("swinir_small")
    torch.manual_seed(5)
    b = build_model("swinir_small")
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
