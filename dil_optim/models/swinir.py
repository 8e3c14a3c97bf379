"""SwinIR (Liang et al., ICCV-W 2021) with the official parameter names, safe for functional calls.

Differences from the reference implementation, all on purpose:

- Any input size: the image is reflect-padded to a multiple of ``window_size`` and the output
  cropped back (what the official test script does outside the network).
- No state is written during ``forward``: the shifted-window attention mask is computed for the
  padded size on every call (once per call, shared by all shifted blocks) and passed down, and
  the RGB mean is a non-persistent buffer that is only read. So ``torch.func.functional_call``,
  ``higher`` and second-order DIL see a pure function of (parameters, buffers, input).
- ``relative_position_index`` is a non-persistent buffer; ``attn_mask`` is not stored at all.
  Official checkpoints contain both keys; they are checked (the index must match) and dropped
  on load, so official state dicts load with ``strict=True``.
- ``img_size`` and ``patch_size`` are not arguments: with per-call masks they have no effect.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._padding import check_image_batch, pad_to_multiple
from .swin_blocks import RSTB, shifted_window_mask

__all__ = ["SwinIR"]

_RGB_MEAN = (0.4488, 0.4371, 0.4040)  # DIV2K mean used by the official code for 3 channels
_UPSAMPLERS = ("", "pixelshuffle", "nearest+conv")


def _resi_conv(dim: int, kind: str) -> nn.Module:
    if kind == "1conv":
        return nn.Conv2d(dim, dim, 3, 1, 1)
    return nn.Sequential(
        nn.Conv2d(dim, dim // 4, 3, 1, 1),
        nn.LeakyReLU(0.2),
        nn.Conv2d(dim // 4, dim // 4, 1, 1, 0),
        nn.LeakyReLU(0.2),
        nn.Conv2d(dim // 4, dim, 3, 1, 1),
    )


class _PatchNorm(nn.Module):
    """Holds the LayerNorm applied to the tokens (``patch_embed.norm`` in official checkpoints)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)

    def forward(self, tokens: Tensor) -> Tensor:
        return self.norm(tokens)


class SwinIR(nn.Module):
    """SwinIR. Maps ``(N, in_chans, H, W)`` to ``(N, in_chans, upscale*H, upscale*W)``, any ``H, W >= 1``.

    Images are floats in ``[0, 1]`` (``img_range=1.0``) or ``[0, 255]`` (``img_range=255.0``,
    with the mean still on the [0, 1] scale as in the official code).

    Args:
        in_chans: image channels (the RGB mean is subtracted when 3, else nothing).
        embed_dim: token width. num_heads must divide it.
        depths: Swin blocks per residual group (RSTB), one entry per group.
        num_heads: attention heads per group, same length as ``depths``.
        window_size: attention window (pixels per side).
        mlp_ratio: hidden width of the MLP relative to ``embed_dim``.
        qkv_bias: learnable bias on q, k, v.
        drop_rate, attn_drop_rate: dropout probabilities (official default 0).
        drop_path_rate: stochastic depth, linearly increasing over all blocks (official default
            0.1). It draws from the global RNG in training mode; set 0 for deterministic steps
            or for ``torch.func.vmap`` (which refuses random ops by default).
        upscale: 1 for denoising / deblurring, 2-4 (powers of 2 or 3) with an upsampler for SR.
        img_range: 1.0 or 255.0.
        upsampler: ``""`` (restoration: ``x + conv_last(features)``), ``"pixelshuffle"``
            (classical SR) or ``"nearest+conv"`` (real-world SR, x4 only).
        resi_connection: ``"1conv"`` or ``"3conv"``.
    """

    def __init__(
        self,
        in_chans: int = 3,
        embed_dim: int = 96,
        depths: Sequence[int] = (6, 6, 6, 6),
        num_heads: Sequence[int] = (6, 6, 6, 6),
        window_size: int = 8,
        mlp_ratio: float = 2.0,
        qkv_bias: bool = True,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.1,
        upscale: int = 1,
        img_range: float = 1.0,
        upsampler: str = "",
        resi_connection: str = "1conv",
    ) -> None:
        super().__init__()
        depths, num_heads = list(depths), list(num_heads)
        self._validate(
            in_chans,
            embed_dim,
            depths,
            num_heads,
            window_size,
            mlp_ratio,
            drop_path_rate,
            upscale,
            img_range,
            upsampler,
            resi_connection,
        )
        self.in_chans = in_chans
        self.window_size = window_size
        self.upscale = upscale
        self.upsampler = upsampler
        self.img_range = float(img_range)
        mean = torch.tensor(_RGB_MEAN) if in_chans == 3 else torch.zeros(1)
        self.register_buffer("mean", mean.view(1, -1, 1, 1), persistent=False)
        self.mean: Tensor

        self.conv_first = nn.Conv2d(in_chans, embed_dim, 3, 1, 1)
        self.patch_embed = _PatchNorm(embed_dim)
        total = sum(depths)
        dpr = [drop_path_rate * i / (total - 1) if total > 1 else 0.0 for i in range(total)]
        self.layers = nn.ModuleList()
        start = 0
        for depth, heads in zip(depths, num_heads):
            self.layers.append(
                RSTB(
                    dim=embed_dim,
                    depth=depth,
                    num_heads=heads,
                    window_size=window_size,
                    mlp_ratio=mlp_ratio,
                    qkv_bias=qkv_bias,
                    drop=drop_rate,
                    attn_drop=attn_drop_rate,
                    drop_path=dpr[start : start + depth],
                    conv=_resi_conv(embed_dim, resi_connection),
                )
            )
            start += depth
        self.norm = nn.LayerNorm(embed_dim)
        self.conv_after_body = _resi_conv(embed_dim, resi_connection)

        num_feat = 64
        if upsampler == "pixelshuffle":
            self.conv_before_upsample = nn.Sequential(nn.Conv2d(embed_dim, num_feat, 3, 1, 1), nn.LeakyReLU(0.01))
            ups: list[nn.Module] = []
            if upscale == 3:
                ups += [nn.Conv2d(num_feat, 9 * num_feat, 3, 1, 1), nn.PixelShuffle(3)]
            else:
                for _ in range(upscale.bit_length() - 1):
                    ups += [nn.Conv2d(num_feat, 4 * num_feat, 3, 1, 1), nn.PixelShuffle(2)]
            self.upsample = nn.Sequential(*ups)
            self.conv_last = nn.Conv2d(num_feat, in_chans, 3, 1, 1)
        elif upsampler == "nearest+conv":
            self.conv_before_upsample = nn.Sequential(nn.Conv2d(embed_dim, num_feat, 3, 1, 1), nn.LeakyReLU(0.01))
            self.conv_up1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
            self.conv_up2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
            self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
            self.conv_last = nn.Conv2d(num_feat, in_chans, 3, 1, 1)
        else:
            self.conv_last = nn.Conv2d(embed_dim, in_chans, 3, 1, 1)
        self.apply(self._init_weights)

    @staticmethod
    def _validate(
        in_chans: Any,
        embed_dim: Any,
        depths: list[Any],
        num_heads: list[Any],
        window_size: Any,
        mlp_ratio: Any,
        drop_path_rate: Any,
        upscale: Any,
        img_range: Any,
        upsampler: Any,
        resi_connection: Any,
    ) -> None:
        def pos_int(name: str, val: Any) -> None:
            if not isinstance(val, int) or isinstance(val, bool) or val < 1:
                raise ValueError(f"SwinIR: {name} must be a positive int, got {val!r}")

        pos_int("in_chans", in_chans)
        pos_int("embed_dim", embed_dim)
        pos_int("window_size", window_size)
        pos_int("upscale", upscale)
        if not depths or len(depths) != len(num_heads):
            raise ValueError(
                f"SwinIR: depths and num_heads must be non-empty and of equal length, got {depths} and {num_heads}"
            )
        for d in depths:
            pos_int("each depth", d)
        for h in num_heads:
            pos_int("each num_heads entry", h)
            if embed_dim % h:
                raise ValueError(f"SwinIR: embed_dim {embed_dim} is not divisible by num_heads {h}")
        if window_size < 2:
            raise ValueError(f"SwinIR: window_size must be >= 2 (shifted windows), got {window_size}")
        if not mlp_ratio > 0:
            raise ValueError(f"SwinIR: mlp_ratio must be > 0, got {mlp_ratio!r}")
        if not 0.0 <= drop_path_rate < 1.0:
            raise ValueError(f"SwinIR: drop_path_rate must be in [0, 1), got {drop_path_rate!r}")
        if not img_range > 0:
            raise ValueError(f"SwinIR: img_range must be > 0, got {img_range!r}")
        if upsampler not in _UPSAMPLERS:
            raise ValueError(f"SwinIR: upsampler must be one of {_UPSAMPLERS}, got {upsampler!r}")
        if resi_connection not in ("1conv", "3conv"):
            raise ValueError(f"SwinIR: resi_connection must be '1conv' or '3conv', got {resi_connection!r}")
        if resi_connection == "3conv" and embed_dim < 4:
            raise ValueError("SwinIR: resi_connection '3conv' needs embed_dim >= 4")
        if upsampler == "" and upscale != 1:
            raise ValueError(f"SwinIR: upscale {upscale} needs an upsampler ('pixelshuffle' or 'nearest+conv')")
        power_of_two = upscale >= 2 and (upscale & (upscale - 1)) == 0
        if upsampler == "pixelshuffle" and not (upscale == 3 or power_of_two):
            raise ValueError(f"SwinIR: 'pixelshuffle' supports upscale 2^n (n >= 1) or 3, got {upscale}")
        if upsampler == "nearest+conv" and upscale != 4:
            raise ValueError(f"SwinIR: 'nearest+conv' supports upscale 4 only, got {upscale}")

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def forward_features(self, x: Tensor) -> Tensor:
        """Deep features of ``(N, embed_dim, H, W)`` with H, W multiples of the window."""
        n, c, h, w = x.shape
        mask = shifted_window_mask(h, w, self.window_size, self.window_size // 2, device=x.device, dtype=x.dtype)
        tokens = self.patch_embed(x.flatten(2).transpose(1, 2))  # (N, H*W, C)
        for layer in self.layers:
            tokens = layer(tokens, (h, w), mask)
        tokens = self.norm(tokens)
        return tokens.transpose(1, 2).reshape(n, c, h, w)

    def forward(self, x: Tensor) -> Tensor:
        check_image_batch(x, self.in_chans, "SwinIR")
        h, w = x.shape[-2], x.shape[-1]
        x = pad_to_multiple(x, self.window_size)
        mean = self.mean.to(dtype=x.dtype)
        x = (x - mean) * self.img_range
        if self.upsampler == "":
            first = self.conv_first(x)
            res = self.conv_after_body(self.forward_features(first)) + first
            x = x + self.conv_last(res)
        else:
            feat = self.conv_first(x)
            feat = self.conv_after_body(self.forward_features(feat)) + feat
            feat = self.conv_before_upsample(feat)
            if self.upsampler == "pixelshuffle":
                x = self.conv_last(self.upsample(feat))
            else:
                for conv in (self.conv_up1, self.conv_up2):
                    feat = F.leaky_relu(conv(F.interpolate(feat, scale_factor=2, mode="nearest")), 0.2)
                x = self.conv_last(F.leaky_relu(self.conv_hr(feat), 0.2))
        x = x / self.img_range + mean
        return x[..., : h * self.upscale, : w * self.upscale]
