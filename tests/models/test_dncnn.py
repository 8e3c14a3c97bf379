"""DnCNN-style net: layout, residual/direct output, BatchNorm option, shapes, errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dil_optim.models import DnCNN


def test_default_is_the_pilot_net():
    net = DnCNN()
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 6 and {c.out_channels for c in convs[:-1]} == {32}
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    # 3->32, 4 x 32->32, 32->3 (3x3 convs with bias)
    assert sum(p.numel() for p in net.parameters()) == (27 * 32 + 32) + 4 * (288 * 32 + 32) + (288 * 3 + 3)
    assert list(net.buffers()) == []


def test_forward_matches_manual_stack_and_residual_form():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 7, 5)
    for residual in (True, False):
        net = DnCNN(depth=3, width=4, residual=residual)
        c0, c1, c2 = (m for m in net.body if isinstance(m, torch.nn.Conv2d))
        feat = F.relu(F.conv2d(x, c0.weight, c0.bias, padding=1))
        feat = F.relu(F.conv2d(feat, c1.weight, c1.bias, padding=1))
        body = F.conv2d(feat, c2.weight, c2.bias, padding=1)
        torch.testing.assert_close(net(x), x - body if residual else body)


def test_residual_net_with_zero_tail_is_identity():
    net = DnCNN()
    with torch.no_grad():
        net.body[-1].weight.zero_()
        net.body[-1].bias.zero_()
    x = torch.rand(1, 3, 9, 11)
    assert torch.equal(net(x), x)


def test_batchnorm_option():
    net = DnCNN(depth=5, width=8, batchnorm=True)
    bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(bns) == 3
    hidden = [m for m in net.body if isinstance(m, torch.nn.Conv2d)][1:-1]
    assert all(c.bias is None for c in hidden)  # BN supplies the shift
    net.train()(torch.rand(4, 3, 6, 6))
    assert all(int(bn.num_batches_tracked) == 1 for bn in bns)


@pytest.mark.parametrize("hw", [(1, 1), (5, 9), (17, 4)])
def test_odd_sizes_and_input_untouched(hw):
    x = torch.rand(2, 3, *hw)
    x0 = x.clone()
    out = DnCNN()(x)
    assert out.shape == x.shape and torch.equal(x, x0)
    assert DnCNN(in_ch=1, out_ch=2, residual=False)(torch.rand(1, 1, *hw)).shape == (1, 2, *hw)


def test_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="depth"):
        DnCNN(depth=1)
    with pytest.raises(ValueError, match="in_ch == out_ch"):
        DnCNN(in_ch=1, out_ch=3, residual=True)
    with pytest.raises(ValueError, match="width"):
        DnCNN(width=0)
    with pytest.raises(ValueError, match="3 input channels"):
        DnCNN()(torch.rand(1, 1, 4, 4))
