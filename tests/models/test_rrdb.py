"""RRDBNet: parameter counts, BasicSR / legacy key names, structure, shapes, errors."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F

from dil_optim.models import RRDBNet, convert_legacy_rrdb_state_dict
from dil_optim.models.rrdb import RRDB, ResidualDenseBlock


def _conv(cin: int, cout: int) -> int:
    return cin * cout * 9 + cout


def _closed_form_count(nin=3, nout=3, nf=64, nb=23, gc=32, unshuffle=1, n_up=0) -> int:
    rdb = sum(_conv(nf + k * gc, gc) for k in range(4)) + _conv(nf + 4 * gc, nf)
    return (_conv(nin * unshuffle**2, nf) + nb * 3 * rdb + _conv(nf, nf) + n_up * _conv(nf, nf)
            + _conv(nf, nf) + _conv(nf, nout))


def _expected_shapes(nin=3, nout=3, nf=64, nb=23, gc=32, unshuffle=1, n_up=0):
    """BasicSR's RRDBNet key names and shapes, written down from the architecture."""
    shapes = {"conv_first.weight": (nf, nin * unshuffle**2, 3, 3), "conv_first.bias": (nf,)}
    for n in range(nb):
        for r in (1, 2, 3):
            for k in range(1, 6):
                cout = nf if k == 5 else gc
                key = f"body.{n}.rdb{r}.conv{k}"
                shapes[f"{key}.weight"] = (cout, nf + (k - 1) * gc, 3, 3)
                shapes[f"{key}.bias"] = (cout,)
    names = ["conv_body"] + [f"conv_up{i}" for i in range(1, n_up + 1)] + ["conv_hr"]
    for name in names:
        shapes[f"{name}.weight"] = (nf, nf, 3, 3)
        shapes[f"{name}.bias"] = (nf,)
    shapes["conv_last.weight"] = (nout, nf, 3, 3)
    shapes["conv_last.bias"] = (nout,)
    return shapes


def _count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# (constructor kwargs, layout for the closed forms, parameter count). 16,697,987 is the published
# count of ESRGAN's / RealESRGAN_x4plus's generator; 16,703,171 that of RealESRGAN_x2plus. The
# paper's x1 net has no up-sampling convs: 2 * (64*64*9 + 64) = 73,856 fewer than x4.
PAPER_LAYOUTS = [
    (dict(scale=4), dict(n_up=2), 16_697_987),
    (dict(scale=1), dict(n_up=0), 16_697_987 - 73_856),
    (dict(scale=2), dict(unshuffle=2, n_up=2), 16_703_171),
    (dict(scale=1, unshuffle_x1=True), dict(unshuffle=4, n_up=2), None),
]


@pytest.mark.parametrize("kwargs, layout, published", PAPER_LAYOUTS)
def test_paper_config_count_and_basicsr_keys_load_strict(kwargs, layout, published):
    model = RRDBNet(**kwargs)  # defaults: 64 features, 23 RRDBs, growth 32
    assert _count(model) == _closed_form_count(**layout)
    if published is not None:
        assert _count(model) == published
    expected = _expected_shapes(**layout)
    own = model.state_dict()
    assert list(own) == list(expected)  # same names, same order as BasicSR
    assert {k: tuple(v.shape) for k, v in own.items()} == expected
    gen = torch.Generator().manual_seed(0)
    ckpt = {k: torch.randn(s, generator=gen) for k, s in expected.items()}
    model.load_state_dict(ckpt, strict=True)
    for key in ("conv_first.weight", "body.22.rdb3.conv5.bias", "conv_last.weight"):
        assert torch.equal(model.state_dict()[key], ckpt[key])


def test_legacy_esrgan_names_convert_and_load():
    expected = _expected_shapes(nf=8, nb=2, gc=4, n_up=2)
    gen = torch.Generator().manual_seed(1)
    basicsr = {k: torch.randn(s, generator=gen) for k, s in expected.items()}

    def legacy_name(key: str) -> str:
        key = re.sub(r"^body\.(\d+)\.rdb(\d)\.", r"RRDB_trunk.\1.RDB\2.", key)
        key = key.replace("conv_body.", "trunk_conv.").replace("conv_hr.", "HRconv.")
        return re.sub(r"^conv_up(\d)\.", r"upconv\1.", key)

    legacy = {"module." + legacy_name(k): v for k, v in basicsr.items()}
    assert "module.RRDB_trunk.1.RDB3.conv5.weight" in legacy and "module.HRconv.bias" in legacy
    wrapped = {"params_ema": legacy}
    before = dict(legacy)
    converted = convert_legacy_rrdb_state_dict(wrapped)
    assert legacy == before and list(wrapped) == ["params_ema"]  # input untouched
    assert list(converted) == list(basicsr)
    model = RRDBNet(scale=4, num_feat=8, num_block=2, num_grow_ch=4)
    model.load_state_dict(converted, strict=True)
    assert torch.equal(model.body[1].rdb3.conv5.weight, basicsr["body.1.rdb3.conv5.weight"])
    # BasicSR names pass through unchanged.
    assert convert_legacy_rrdb_state_dict({"params": basicsr}) == basicsr


def test_legacy_conversion_errors():
    with pytest.raises(TypeError, match="mapping"):
        convert_legacy_rrdb_state_dict([("a", 1)])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="conv_body.weight"):
        convert_legacy_rrdb_state_dict({"trunk_conv.weight": 1, "conv_body.weight": 2})


def test_dense_block_matches_manual_computation():
    torch.manual_seed(0)
    block = ResidualDenseBlock(num_feat=6, num_grow_ch=4)
    for p in block.parameters():  # non-trivial biases too
        torch.nn.init.normal_(p, std=0.2)
    x = torch.randn(2, 6, 5, 7)
    c = [getattr(block, f"conv{k}") for k in range(1, 6)]
    x1 = F.leaky_relu(F.conv2d(x, c[0].weight, c[0].bias, padding=1), 0.2)
    x2 = F.leaky_relu(F.conv2d(torch.cat([x, x1], 1), c[1].weight, c[1].bias, padding=1), 0.2)
    x3 = F.leaky_relu(F.conv2d(torch.cat([x, x1, x2], 1), c[2].weight, c[2].bias, padding=1), 0.2)
    x4 = F.leaky_relu(F.conv2d(torch.cat([x, x1, x2, x3], 1), c[3].weight, c[3].bias, padding=1), 0.2)
    x5 = F.conv2d(torch.cat([x, x1, x2, x3, x4], 1), c[4].weight, c[4].bias, padding=1)
    torch.testing.assert_close(block(x), x + 0.2 * x5)
    rrdb = RRDB(6, 4)
    torch.testing.assert_close(rrdb(x), x + 0.2 * rrdb.rdb3(rrdb.rdb2(rrdb.rdb1(x))))


def test_dense_block_init_is_scaled_kaiming():
    torch.manual_seed(0)
    block = ResidualDenseBlock(num_feat=64, num_grow_ch=32)
    w = block.conv3.weight  # fan_in = (64 + 64) * 9; Kaiming std = sqrt(2 / fan_in), times 0.1
    assert w.std().item() == pytest.approx(0.1 * (2 / (128 * 9)) ** 0.5, rel=0.05)
    assert torch.count_nonzero(block.conv3.bias) == 0


def test_forward_composition_x1_and_x4():
    torch.manual_seed(0)
    x = torch.rand(1, 3, 6, 5)
    for scale in (1, 4):
        net = RRDBNet(scale=scale, num_feat=8, num_block=1, num_grow_ch=4)
        with torch.no_grad():  # silence the trunk: out = tail(head(x)) exactly
            net.conv_body.weight.zero_()
            net.conv_body.bias.zero_()
        feat = net.conv_first(x)
        if scale == 4:
            for conv in (net.conv_up1, net.conv_up2):
                feat = F.leaky_relu(conv(F.interpolate(feat, scale_factor=2, mode="nearest")), 0.2)
        ref = net.conv_last(F.leaky_relu(net.conv_hr(feat), 0.2))
        torch.testing.assert_close(net(x), ref)


@pytest.mark.parametrize("kwargs, s", [(dict(scale=1), 1), (dict(scale=2), 2), (dict(scale=4), 4),
                                       (dict(scale=1, unshuffle_x1=True), 1)])
@pytest.mark.parametrize("hw", [(1, 1), (5, 7), (9, 4), (3, 13)])
def test_output_shapes_odd_sizes(kwargs, s, hw):
    net = RRDBNet(num_feat=8, num_block=1, num_grow_ch=4, **kwargs)
    x = torch.rand(2, 3, *hw)
    out = net(x)
    assert out.shape == (2, 3, s * hw[0], s * hw[1])
    assert torch.isfinite(out).all()


def test_unshuffle_pads_by_reflection_and_crops():
    torch.manual_seed(0)
    net = RRDBNet(scale=2, num_feat=8, num_block=1, num_grow_ch=4)
    x = torch.rand(1, 3, 5, 7)
    padded = F.pad(x, (0, 1, 0, 1), mode="reflect")
    torch.testing.assert_close(net(x), net(padded)[..., :10, :14])


def test_does_not_modify_input_and_keeps_dtype():
    net = RRDBNet(num_feat=8, num_block=1, num_grow_ch=4).double()
    x = torch.rand(1, 3, 4, 4, dtype=torch.float64)
    x0 = x.clone()
    out = net(x)
    assert torch.equal(x, x0) and out.dtype == torch.float64


def test_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="scale"):
        RRDBNet(scale=3)
    with pytest.raises(ValueError, match="unshuffle_x1"):
        RRDBNet(scale=4, unshuffle_x1=True)
    with pytest.raises(ValueError, match="num_feat"):
        RRDBNet(num_feat=0)
    with pytest.raises(ValueError, match="num_block"):
        RRDBNet(num_block=-1)
    net = RRDBNet(num_feat=8, num_block=1, num_grow_ch=4)
    with pytest.raises(ValueError, match="3 input channels"):
        net(torch.rand(1, 1, 8, 8))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        net(torch.rand(3, 8, 8))
    with pytest.raises(TypeError, match="floating"):
        net(torch.zeros(1, 3, 8, 8, dtype=torch.uint8))


def test_authors_init_keeps_default_dense_block_biases_and_the_same_weights():
    import math

    from dil_optim.models.rrdb import RRDBNet

    torch.manual_seed(0)
    ours = RRDBNet(num_feat=16, num_block=1, num_grow_ch=8)
    torch.manual_seed(0)
    theirs = RRDBNet(num_feat=16, num_block=1, num_grow_ch=8, init="authors")
    a, b = ours.state_dict(), theirs.state_dict()
    dense_biases = [k for k in a if ".rdb" in k and k.endswith(".bias")]
    assert len(dense_biases) == 15
    for k in a:
        if k in dense_biases:
            assert torch.count_nonzero(a[k]) == 0 and torch.count_nonzero(b[k]) == b[k].numel()
            conv = dict(theirs.named_modules())[k.rsplit(".", 1)[0]]
            bound = 1 / math.sqrt(conv.in_channels * 9)
            assert float(b[k].abs().max()) <= bound
        else:
            assert torch.equal(a[k], b[k]), k  # same weights, same other biases
    with pytest.raises(ValueError, match="init must be one of"):
        RRDBNet(num_block=0, init="esrgan")
