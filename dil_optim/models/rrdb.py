"""RRDBNet (ESRGAN's Residual-in-Residual Dense Block network) with BasicSR parameter names.

The module tree and parameter names follow BasicSR's ``RRDBNet`` (``conv_first``,
``body.N.rdb{1,2,3}.conv{1..5}``, ``conv_body``, ``conv_up1``, ``conv_up2``, ``conv_hr``,
``conv_last``), so checkpoints saved by BasicSR / Real-ESRGAN load with ``strict=True``.
Checkpoints that use the older ESRGAN names (``RRDB_trunk``, ``RDB1``, ``trunk_conv``,
``upconv1``, ``HRconv``; also the DIL authors' code) load after
:func:`convert_legacy_rrdb_state_dict`.

Scales:

- ``scale=1`` (default; the DIL paper's denoising / deblurring network, as in the authors'
  ``RRDB.py``): the trunk runs at full resolution and there are no up-sampling convs, so
  ``conv_up1``/``conv_up2`` do not exist. ``unshuffle_x1=True`` gives BasicSR's x1 variant
  instead (pixel-unshuffle by 4, trunk at quarter resolution, two x2 nearest up-sampling convs).
- ``scale=2``: BasicSR's x2 (pixel-unshuffle by 2, then two x2 up-sampling convs).
- ``scale=4``: ESRGAN / Real-ESRGAN x4 (two x2 nearest up-sampling convs).

Inputs whose size the pixel-unshuffle cannot split are reflect-padded and the output cropped
back to exactly ``scale * (H, W)``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._padding import check_image_batch, pad_to_multiple

__all__ = ["RRDBNet", "RRDB", "ResidualDenseBlock", "convert_legacy_rrdb_state_dict"]

_NEG_SLOPE = 0.2
_RES_SCALE = 0.2


INITS = ("basicsr", "authors")


def _scaled_kaiming_(conv: nn.Conv2d, scale: float, zero_bias: bool = True) -> None:
    """ESRGAN's initialisation for dense-block convs: Kaiming normal (fan-in) times ``scale``;
    the bias zeroed (BasicSR) or left at PyTorch's default uniform draw (``zero_bias=False``)."""
    nn.init.kaiming_normal_(conv.weight, a=0, mode="fan_in", nonlinearity="relu")
    with torch.no_grad():
        conv.weight.mul_(scale)
    if conv.bias is not None and zero_bias:
        nn.init.zeros_(conv.bias)


class ResidualDenseBlock(nn.Module):
    """Five densely connected 3x3 convs; output ``x + 0.2 * conv5(...)``.

    Maps ``(N, num_feat, H, W)`` to the same shape. ``convK`` sees ``num_feat + (K-1) * num_grow_ch``
    channels; conv1-4 produce ``num_grow_ch``, conv5 produces ``num_feat``.
    """

    def __init__(self, num_feat: int = 64, num_grow_ch: int = 32, bias: bool = True, init: str = "basicsr") -> None:
        super().__init__()
        g = num_grow_ch
        self.conv1 = nn.Conv2d(num_feat, g, 3, 1, 1, bias=bias)
        self.conv2 = nn.Conv2d(num_feat + g, g, 3, 1, 1, bias=bias)
        self.conv3 = nn.Conv2d(num_feat + 2 * g, g, 3, 1, 1, bias=bias)
        self.conv4 = nn.Conv2d(num_feat + 3 * g, g, 3, 1, 1, bias=bias)
        self.conv5 = nn.Conv2d(num_feat + 4 * g, num_feat, 3, 1, 1, bias=bias)
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4, self.conv5):
            _scaled_kaiming_(conv, 0.1, zero_bias=init == "basicsr")

    def forward(self, x: Tensor) -> Tensor:
        feats = [x]
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            feats.append(F.leaky_relu(conv(torch.cat(feats, dim=1)), _NEG_SLOPE))
        return x + _RES_SCALE * self.conv5(torch.cat(feats, dim=1))


class RRDB(nn.Module):
    """Residual-in-residual dense block: three dense blocks, output ``x + 0.2 * rdb3(rdb2(rdb1(x)))``."""

    def __init__(self, num_feat: int = 64, num_grow_ch: int = 32, bias: bool = True, init: str = "basicsr") -> None:
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch, bias, init)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch, bias, init)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch, bias, init)

    def forward(self, x: Tensor) -> Tensor:
        return x + _RES_SCALE * self.rdb3(self.rdb2(self.rdb1(x)))


class RRDBNet(nn.Module):
    """ESRGAN's RRDBNet. Maps ``(N, num_in_ch, H, W)`` to ``(N, num_out_ch, scale*H, scale*W)``.

    Any ``H, W >= 1`` is accepted. Images are floats (the paper trains on ``[0, 1]``); the
    output is not clamped.

    Args:
        num_in_ch: input channels (3 for RGB).
        num_out_ch: output channels.
        scale: 1, 2 or 4 (see the module docstring for the layout of each).
        num_feat: trunk width (paper: 64).
        num_block: number of RRDBs in the trunk (paper: 23).
        num_grow_ch: growth channels of the dense blocks (paper: 32).
        unshuffle_x1: for ``scale=1`` only, use BasicSR's pixel-unshuffle x1 layout instead of
            the paper's full-resolution one.
        bias: additive biases in every conv (default True). ``bias=False`` removes all of them
            (the net has no other additive term), giving a bias-free RRDB in the sense of Mohan
            et al. (ICLR 2020): ``f(a x) = a f(x)`` for ``a > 0``.
        init: the dense-block convs' initialisation; both draw Kaiming-normal weights times 0.1.
            ``"basicsr"`` (default, ESRGAN/BasicSR) zeroes their biases; ``"authors"`` keeps
            PyTorch's default bias draw, uniform in ``+-1/sqrt(fan_in)``, as the DIL authors'
            RRDB does. The weights are the same for the same seed; only those biases differ.
    """

    def __init__(
        self,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        scale: int = 1,
        num_feat: int = 64,
        num_block: int = 23,
        num_grow_ch: int = 32,
        unshuffle_x1: bool = False,
        bias: bool = True,
        init: str = "basicsr",
    ) -> None:
        super().__init__()
        if init not in INITS:
            raise ValueError(f"RRDBNet: init must be one of {', '.join(map(repr, INITS))}, got {init!r}")
        for key, val in (
            ("num_in_ch", num_in_ch),
            ("num_out_ch", num_out_ch),
            ("num_feat", num_feat),
            ("num_grow_ch", num_grow_ch),
        ):
            if not isinstance(val, int) or isinstance(val, bool) or val < 1:
                raise ValueError(f"RRDBNet: {key} must be a positive int, got {val!r}")
        if not isinstance(num_block, int) or isinstance(num_block, bool) or num_block < 0:
            raise ValueError(f"RRDBNet: num_block must be an int >= 0, got {num_block!r}")
        if scale not in (1, 2, 4) or isinstance(scale, bool):
            raise ValueError(f"RRDBNet: scale must be 1, 2 or 4, got {scale!r}")
        if unshuffle_x1 and scale != 1:
            raise ValueError(f"RRDBNet: unshuffle_x1=True only applies to scale=1, got scale={scale}")

        self.num_in_ch = num_in_ch
        self.num_out_ch = num_out_ch
        self.scale = scale
        # Pixel-unshuffle factor applied to the input, and number of x2 up-sampling stages.
        if scale == 1:
            self.unshuffle = 4 if unshuffle_x1 else 1
        else:
            self.unshuffle = 4 // scale  # x2 -> 2, x4 -> 1
        self.num_up = 0 if self.unshuffle == 1 and scale == 1 else 2

        self.conv_first = nn.Conv2d(num_in_ch * self.unshuffle**2, num_feat, 3, 1, 1, bias=bias)
        self.body = nn.Sequential(*(RRDB(num_feat, num_grow_ch, bias, init) for _ in range(num_block)))
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1, bias=bias)
        if self.num_up:
            self.conv_up1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1, bias=bias)
            self.conv_up2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1, bias=bias)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1, bias=bias)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        check_image_batch(x, self.num_in_ch, "RRDBNet")
        h, w = x.shape[-2], x.shape[-1]
        feat = x
        if self.unshuffle > 1:
            # Same channel order as BasicSR's pixel_unshuffle: c * r * r + i * r + j.
            feat = F.pixel_unshuffle(pad_to_multiple(x, self.unshuffle), self.unshuffle)
        feat = self.conv_first(feat)
        feat = feat + self.conv_body(self.body(feat))
        if self.num_up:
            for conv in (self.conv_up1, self.conv_up2):
                up = F.interpolate(feat, scale_factor=2, mode="nearest")
                feat = F.leaky_relu(conv(up), _NEG_SLOPE)
        out = self.conv_last(F.leaky_relu(self.conv_hr(feat), _NEG_SLOPE))
        return out[..., : h * self.scale, : w * self.scale]


_LEGACY_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^RRDB_trunk\.(\d+)\.RDB([123])\."), r"body.\1.rdb\2."),
    (re.compile(r"^trunk_conv\."), "conv_body."),
    (re.compile(r"^upconv([12])\."), r"conv_up\1."),
    (re.compile(r"^HRconv\."), "conv_hr."),
)


def convert_legacy_rrdb_state_dict(state_dict: Mapping[str, object]) -> dict[str, object]:
    """Return a copy of an RRDBNet checkpoint with BasicSR key names.

    Accepts (and unwraps) BasicSR's ``{"params_ema": ...}`` / ``{"params": ...}`` containers,
    strips a ``module.`` prefix (``DataParallel``), and renames the older ESRGAN names
    (``RRDB_trunk.N.RDBk.convj``, ``trunk_conv``, ``upconv1/2``, ``HRconv``) used by the original
    ESRGAN repository and the DIL authors' code. Keys already in BasicSR form pass unchanged.
    The input mapping is not modified.
    """
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"state_dict must be a mapping, got {type(state_dict).__name__}")
    for wrapper in ("params_ema", "params"):
        inner = state_dict.get(wrapper)
        if isinstance(inner, Mapping):
            state_dict = inner
            break
    out: dict[str, object] = {}
    for key, value in state_dict.items():
        if not isinstance(key, str):
            raise TypeError(f"state_dict keys must be str, got {key!r}")
        new = key[len("module.") :] if key.startswith("module.") else key
        for pattern, repl in _LEGACY_PATTERNS:
            new = pattern.sub(repl, new)
        if new in out:
            raise ValueError(f"state_dict has two keys that both map to {new!r}")
        out[new] = value
    return out
