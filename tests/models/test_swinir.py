"""SwinIR: parameter counts, official key names, shifted-window attention, shapes, purity."""

from __future__ import annotations

import copy
import itertools

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call, vmap

from dil_optim.models import SwinIR, build_model
from dil_optim.models.swin_blocks import (SwinBlock, shifted_window_mask, window_partition,
                                          window_reverse)

PAPER = dict(embed_dim=180, depths=(6,) * 6, num_heads=(6,) * 6, window_size=8, mlp_ratio=2.0)


def _tiny(**kw) -> SwinIR:
    cfg = dict(embed_dim=12, depths=(2,), num_heads=(3,), window_size=4, mlp_ratio=2.0,
               drop_path_rate=0.0)
    cfg.update(kw)
    return SwinIR(**cfg)


def _closed_form_count(c=180, depths=(6,) * 6, heads=(6,) * 6, ws=8, ratio=2.0, sr_x=0) -> int:
    hid = int(c * ratio)
    conv = lambda i, o: i * o * 9 + o  # noqa: E731
    block = lambda h: 4 * c + (2 * ws - 1) ** 2 * h + (3 * c * c + 3 * c) + (c * c + c) \
        + (c * hid + hid) + (hid * c + c)  # noqa: E731
    total = conv(3, c) + 2 * c + sum(d * block(h) + conv(c, c) for d, h in zip(depths, heads))
    total += 2 * c + conv(c, c)
    if sr_x:  # 'pixelshuffle': conv_before_upsample, log2(x) conv+shuffle stages, conv_last 64->3
        total += conv(c, 64) + (sr_x.bit_length() - 1) * conv(64, 256) + conv(64, 3)
    else:
        total += conv(c, 3)
    return total


def _count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_paper_denoising_parameter_count():
    model = build_model("swinir")
    assert _count(model) == _closed_form_count() == 11_504_163


def test_sr_x2_count_matches_published_swinir_m():
    # 11,752,487: the official SwinIR-M classical x2 model (001_classicalSR_DF2K_s64w8_SwinIR-M_x2).
    model = SwinIR(**PAPER, upscale=2, upsampler="pixelshuffle")
    assert _count(model) == _closed_form_count(sr_x=2) == 11_752_487


def _official_keys(depths, resi="1conv", with_buffers=True):
    """Key names of the official network_swinir.SwinIR (denoising), written from the architecture."""
    keys = ["conv_first.weight", "conv_first.bias", "patch_embed.norm.weight", "patch_embed.norm.bias"]
    conv = ["conv.weight", "conv.bias"] if resi == "1conv" else [
        f"conv.{i}.{p}" for i in (0, 2, 4) for p in ("weight", "bias")]
    for i, d in enumerate(depths):
        for j in range(d):
            b = f"layers.{i}.residual_group.blocks.{j}."
            keys += [b + "norm1.weight", b + "norm1.bias", b + "attn.relative_position_bias_table"]
            if with_buffers:
                keys.append(b + "attn.relative_position_index")
            keys += [b + f"attn.{m}.{p}" for m in ("qkv", "proj") for p in ("weight", "bias")]
            keys += [b + "norm2.weight", b + "norm2.bias"]
            keys += [b + f"mlp.{m}.{p}" for m in ("fc1", "fc2") for p in ("weight", "bias")]
            if with_buffers and j % 2 == 1:
                keys.append(b + "attn_mask")
        keys += [f"layers.{i}." + k for k in conv]
    keys += ["norm.weight", "norm.bias"] + [k.replace("conv.", "conv_after_body.") for k in conv]
    return keys + ["conv_last.weight", "conv_last.bias"]


def _index(ws: int) -> torch.Tensor:
    idx = torch.empty(ws * ws, ws * ws, dtype=torch.long)
    for (a, (ya, xa)), (b, (yb, xb)) in itertools.product(
            enumerate(itertools.product(range(ws), repeat=2)), repeat=2):
        idx[a, b] = (ya - yb + ws - 1) * (2 * ws - 1) + (xa - xb + ws - 1)
    return idx


@pytest.mark.parametrize("resi", ["1conv", "3conv"])
def test_official_checkpoint_keys_load_strict(resi):
    model = _tiny(depths=(2, 3), num_heads=(3, 3), resi_connection=resi)
    assert list(model.state_dict()) == _official_keys((2, 3), resi, with_buffers=False)
    gen = torch.Generator().manual_seed(0)
    ckpt = {}
    for key in _official_keys((2, 3), resi):
        if key.endswith("relative_position_index"):
            ckpt[key] = _index(4)
        elif key.endswith("attn_mask"):  # stored for the training size in official files
            ckpt[key] = torch.zeros(16, 16, 16)
        else:
            ckpt[key] = torch.randn(model.state_dict()[key].shape, generator=gen)
    keys_before = list(ckpt)
    model.load_state_dict(ckpt, strict=True)
    assert list(ckpt) == keys_before  # the caller's dict is not modified
    w = model.layers[1].residual_group.blocks[2].attn.qkv.weight
    assert torch.equal(w, ckpt["layers.1.residual_group.blocks.2.attn.qkv.weight"])
    ckpt["layers.0.residual_group.blocks.0.attn.relative_position_index"] = _index(4).flip(0)
    with pytest.raises(ValueError, match="relative_position_index"):
        model.load_state_dict(ckpt, strict=True)


def test_relative_position_index_matches_brute_force():
    assert torch.equal(_tiny().layers[0].residual_group.blocks[0].attn.relative_position_index,
                       _index(4))


def test_window_partition_roundtrip():
    x = torch.randn(2, 8, 12, 5)
    win = window_partition(x, 4)
    assert win.shape == (2 * 2 * 3, 16, 5)
    assert torch.equal(win[1], x[0, 0:4, 4:8].reshape(16, 5))  # second window: row 0, col 1
    assert torch.equal(window_reverse(win, 4, 8, 12), x)


def _same_region(h, w, ws, s):
    """Brute force: after rolling by -s, tokens may attend iff they share a window and neither or
    both crossed the wrap-around, per axis. Returns (nW, N, N) bool over rolled positions."""
    rolled = [(r, c) for r in range(h) for c in range(w)]
    wrapped = {(r, c): (r >= h - s, c >= w - s) for r, c in rolled}
    win = {(r, c): (r // ws, c // ws) for r, c in rolled}
    windows = sorted(set(win.values()))
    out = torch.zeros(len(windows), ws * ws, ws * ws, dtype=torch.bool)
    for wi, (wr, wc) in enumerate(windows):
        members = [(wr * ws + i, wc * ws + j) for i in range(ws) for j in range(ws)]
        for a, pa in enumerate(members):
            for b, pb in enumerate(members):
                out[wi, a, b] = wrapped[pa] == wrapped[pb]
    return out


@pytest.mark.parametrize("h, w, ws", [(8, 8, 4), (8, 12, 4), (16, 8, 8), (6, 9, 3)])
def test_shift_mask_matches_brute_force(h, w, ws):
    mask = shifted_window_mask(h, w, ws, ws // 2)
    allowed = _same_region(h, w, ws, ws // 2)
    assert mask.shape == allowed.shape
    assert torch.equal(mask == 0, allowed)
    assert torch.all(mask[~allowed] == -100.0)
    with pytest.raises(ValueError, match="multiple"):
        shifted_window_mask(h + 1, w, ws, ws // 2)


@pytest.mark.parametrize("shift", [0, 2])
def test_swin_block_equals_dense_masked_attention(shift):
    """A Swin block = dense attention over the image where p may see q iff they share a
    (shifted) window and did not wrap around, with bias table[(dy + ws-1)(2ws-1) + dx + ws-1]."""
    torch.manual_seed(0)
    h, w, ws, c, heads = 8, 12, 4, 6, 2
    blk = SwinBlock(c, heads, ws, shift, 2.0, True, 0.0, 0.0, 0.0).eval()
    torch.nn.init.normal_(blk.attn.relative_position_bias_table, std=1.0)
    x = torch.randn(1, h * w, c)
    mask = shifted_window_mask(h, w, ws, ws // 2)
    out = blk(x, (h, w), mask)

    y = blk.norm1(x)[0]
    q, k, v = blk.attn.qkv(y).reshape(h * w, 3, heads, c // heads).unbind(1)
    logits = torch.einsum("phd,qhd->hpq", q * (c // heads) ** -0.5, k)
    pos = [(r, cc) for r in range(h) for cc in range(w)]
    allow = torch.zeros(h * w, h * w, dtype=torch.bool)
    bias = torch.zeros(heads, h * w, h * w)
    for a, (ra, ca) in enumerate(pos):
        for b, (rb, cb) in enumerate(pos):
            ya, xa, yb, xb = (ra - shift) % h, (ca - shift) % w, (rb - shift) % h, (cb - shift) % w
            same_win = (ya // ws, xa // ws) == (yb // ws, xb // ws)
            no_wrap = (ya - ra == yb - rb) and (xa - ca == xb - cb)
            if same_win and no_wrap:
                allow[a, b] = True
                idx = (ra - rb + ws - 1) * (2 * ws - 1) + (ca - cb + ws - 1)
                bias[:, a, b] = blk.attn.relative_position_bias_table[idx]
    attn = (logits + bias).masked_fill(~allow, float("-inf")).softmax(-1)
    att_out = blk.attn.proj(torch.einsum("hpq,qhd->phd", attn, v).reshape(h * w, c))
    ref = x[0] + att_out
    ref = ref + blk.mlp(blk.norm2(ref))
    torch.testing.assert_close(out[0], ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("hw", [(1, 1), (3, 5), (5, 13), (8, 8), (9, 17)])
def test_output_shapes_odd_sizes(hw):
    model = build_model("swinir_small")
    out = model(torch.rand(2, 3, *hw))
    assert out.shape == (2, 3, *hw) and torch.isfinite(out).all()


def test_paper_config_odd_size_and_sr_upsamplers():
    model = build_model("swinir").eval()
    with torch.no_grad():
        assert model(torch.rand(1, 3, 5, 11)).shape == (1, 3, 5, 11)
    for up, ups in [(2, "pixelshuffle"), (3, "pixelshuffle"), (4, "nearest+conv")]:
        out = _tiny(upscale=up, upsampler=ups)(torch.rand(1, 3, 5, 6))
        assert out.shape == (1, 3, 5 * up, 6 * up)


def test_reflect_padding_and_crop():
    torch.manual_seed(0)
    model = _tiny().eval()
    x = torch.rand(1, 3, 6, 7)
    torch.testing.assert_close(model(x), model(F.pad(x, (0, 1, 0, 2), mode="reflect"))[..., :6, :7])


@pytest.mark.parametrize("img_range", [1.0, 255.0])
def test_denoising_output_is_input_plus_residual(img_range):
    model = _tiny(img_range=img_range)
    with torch.no_grad():
        model.conv_last.weight.zero_()
        model.conv_last.bias.zero_()
    x = torch.rand(1, 3, 5, 9) * img_range
    torch.testing.assert_close(model(x), x)  # mean subtracted and added back exactly
    with torch.no_grad():
        model.conv_last.bias.fill_(0.5)
    torch.testing.assert_close(model(x), x + 0.5 / img_range)


def test_forward_writes_no_state_and_functional_call_is_pure():
    torch.manual_seed(0)
    model = _tiny(depths=(2, 2), num_heads=(3, 3)).train()
    snapshot = {k: v.clone() for k, v in model.state_dict(keep_vars=True).items()}
    buffers = {k: (b, b.clone()) for k, b in model.named_buffers()}
    x = torch.rand(2, 3, 7, 9)
    y1 = model(x)
    y2 = model(torch.rand(1, 3, 12, 5))  # another size -> another mask, nothing cached
    assert y1.shape == x.shape and y2.shape == (1, 3, 12, 5)
    for name, (obj, val) in buffers.items():
        cur = dict(model.named_buffers())[name]
        assert cur is obj and torch.equal(cur, val)
    assert all(torch.equal(snapshot[k], v) for k, v in model.state_dict().items())
    params = {k: v.detach() + 0.01 * torch.randn_like(v) for k, v in model.named_parameters()}
    out = functional_call(model, params, (x,))
    other = copy.deepcopy(model)
    other.load_state_dict(params, strict=False)
    torch.testing.assert_close(out, other(x))
    assert all(torch.equal(snapshot[k], v) for k, v in model.state_dict().items())


def test_second_order_gradient_through_swinir():
    torch.manual_seed(0)
    model = _tiny()
    x = torch.rand(1, 3, 5, 6)
    params = dict(model.named_parameters())
    loss = functional_call(model, params, (x,)).square().mean()
    grads = torch.autograd.grad(loss, list(params.values()), create_graph=True)
    phi = {k: p - 0.1 * g for (k, p), g in zip(params.items(), grads)}
    outer = functional_call(model, phi, (x,)).abs().mean()
    meta = torch.autograd.grad(outer, list(params.values()), allow_unused=True)
    table = list(params).index("layers.0.residual_group.blocks.1.attn.relative_position_bias_table")
    assert meta[table] is not None and meta[table].abs().sum() > 0


def test_vmap_over_parameter_sets():
    torch.manual_seed(0)
    model = _tiny()
    x = torch.rand(1, 3, 5, 6)
    base = {k: v.detach() for k, v in model.named_parameters()}
    stacked = {k: torch.stack([v, v + 0.01 * torch.randn_like(v)]) for k, v in base.items()}
    out = vmap(lambda p: functional_call(model, p, (x,)))(stacked)
    for i in range(2):
        torch.testing.assert_close(out[i], functional_call(model, {k: v[i] for k, v in stacked.items()}, (x,)))


def test_drop_path_only_in_training():
    torch.manual_seed(0)
    model = _tiny(drop_path_rate=0.5, depths=(4,), num_heads=(3,))
    x = torch.rand(1, 3, 8, 8)
    model.eval()
    torch.testing.assert_close(model(x), model(x))
    model.train()
    outs = [model(x) for _ in range(6)]
    assert any(not torch.allclose(outs[0], o) for o in outs[1:])


def test_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="divisible"):
        SwinIR(embed_dim=10, depths=(2,), num_heads=(3,))
    with pytest.raises(ValueError, match="equal length"):
        SwinIR(depths=(2, 2), num_heads=(3,))
    with pytest.raises(ValueError, match="upsampler"):
        SwinIR(upsampler="bicubic")
    with pytest.raises(ValueError, match="needs an upsampler"):
        SwinIR(upscale=2)
    with pytest.raises(ValueError, match="upscale 4 only"):
        SwinIR(upscale=2, upsampler="nearest+conv")
    with pytest.raises(ValueError, match="2\\^n"):
        SwinIR(upscale=5, upsampler="pixelshuffle")
    with pytest.raises(ValueError, match="window_size"):
        SwinIR(window_size=1)
    model = _tiny()
    with pytest.raises(ValueError, match="3 input channels"):
        model(torch.rand(1, 4, 8, 8))
    with pytest.raises(TypeError, match="torch.Tensor"):
        model([[0.0]])
