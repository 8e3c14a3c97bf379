"""Building blocks of SwinIR: window attention, Swin blocks, residual Swin groups (RSTB).

Tokens are ``(B, H*W, C)`` row-major over an ``H x W`` grid whose sides are multiples of the
window size. Nothing here writes module state in ``forward``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["RSTB", "SwinBlock", "WindowAttention", "shifted_window_mask", "window_partition", "window_reverse"]

_MASK_VALUE = -100.0  # the official value for pairs of tokens from different shifted regions


def window_partition(x: Tensor, ws: int) -> Tensor:
    """``(B, H, W, C)`` -> ``(B * H/ws * W/ws, ws*ws, C)``, windows in row-major order."""
    b, h, w, c = x.shape
    x = x.reshape(b, h // ws, ws, w // ws, ws, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, ws * ws, c)


def window_reverse(windows: Tensor, ws: int, h: int, w: int) -> Tensor:
    """Inverse of :func:`window_partition`: ``(B*nW, ws*ws, C)`` -> ``(B, H, W, C)``."""
    c = windows.shape[-1]
    b = windows.shape[0] // ((h // ws) * (w // ws))
    x = windows.reshape(b, h // ws, w // ws, ws, ws, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h, w, c)


def shifted_window_mask(
    h: int, w: int, ws: int, shift: int, *, device: torch.device | None = None, dtype: torch.dtype = torch.float32
) -> Tensor:
    """Additive attention mask ``(nW, ws*ws, ws*ws)`` for windows shifted by ``shift``.

    After the cyclic shift, windows on the bottom/right border hold pixels from up to three
    regions per axis; entry ``[w, i, j]`` is 0 when tokens i and j of window w come from the
    same region and -100 otherwise (the value of the official code). ``h`` and ``w`` must be
    multiples of ``ws``. Built from fresh tensors: no module state is touched.
    """
    if h % ws or w % ws:
        raise ValueError(f"mask size {h}x{w} is not a multiple of the window {ws}")

    def region(n: int) -> Tensor:
        idx = torch.arange(n, device=device)
        return (idx >= n - ws).long() + (idx >= n - shift).long()

    labels = (region(h)[:, None] * 3 + region(w)[None, :])[None, :, :, None]
    lab = window_partition(labels, ws).squeeze(-1)  # (nW, N)
    differ = lab[:, None, :] != lab[:, :, None]
    zero = torch.zeros((), device=device, dtype=dtype)
    return torch.where(differ, torch.full_like(zero, _MASK_VALUE), zero)


def _relative_position_index(ws: int) -> Tensor:
    """``(ws*ws, ws*ws)`` index into the ``(2ws-1)^2`` bias table (official convention)."""
    coords = torch.stack(torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing="ij"))
    flat = coords.flatten(1)  # (2, N)
    rel = (flat[:, :, None] - flat[:, None, :]).permute(1, 2, 0) + (ws - 1)  # (N, N, 2), >= 0
    return rel[..., 0] * (2 * ws - 1) + rel[..., 1]


def _drop_path(x: Tensor, p: float, training: bool) -> Tensor:
    """Stochastic depth: zero whole samples with probability ``p``, rescale the rest by 1/(1-p)."""
    if p == 0.0 or not training:
        return x
    keep = 1.0 - p
    shape = (x.shape[0],) + (1,) * (x.dim() - 1)
    return x * (torch.rand(shape, device=x.device, dtype=x.dtype) < keep).to(x.dtype) / keep


class WindowAttention(nn.Module):
    """Multi-head self attention inside ``ws x ws`` windows with a learned relative position bias."""

    def __init__(
        self,
        dim: int,
        window_size: int,
        num_heads: int,
        qkv_bias: bool = True,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
    ) -> None:
        super().__init__()
        self.dim, self.window_size, self.num_heads = dim, window_size, num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window_size - 1) ** 2, num_heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.register_buffer("relative_position_index", _relative_position_index(window_size), persistent=False)
        self.relative_position_index: Tensor
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """``x``: ``(B*nW, N, C)``; ``mask``: ``(nW, N, N)`` additive, or None."""
        b_, n, c = x.shape
        qkv = self.qkv(x).reshape(b_, n, 3, self.num_heads, c // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B*nW, heads, N, hd)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        bias = self.relative_position_bias_table[self.relative_position_index.reshape(-1)]
        attn = attn + bias.reshape(n, n, -1).permute(2, 0, 1).unsqueeze(0)
        if mask is not None:
            nw = mask.shape[0]
            attn = attn.reshape(b_ // nw, nw, self.num_heads, n, n) + mask[None, :, None]
            attn = attn.reshape(b_, self.num_heads, n, n)
        attn = self.attn_drop(attn.softmax(dim=-1))
        out = (attn @ v).transpose(1, 2).reshape(b_, n, c)
        return self.proj_drop(self.proj(out))

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
        # Official checkpoints store the (constant) index; check it and drop it.
        stored = state_dict.pop(prefix + "relative_position_index", None)
        if stored is not None and not torch.equal(
            torch.as_tensor(stored).cpu().long(), self.relative_position_index.cpu()
        ):
            raise ValueError(
                f"{prefix}relative_position_index in the checkpoint does not match window_size={self.window_size}"
            )
        super()._load_from_state_dict(state_dict, prefix, *args)


class _Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int, drop: float) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.fc2(self.drop(F.gelu(self.fc1(x)))))


class SwinBlock(nn.Module):
    """Swin transformer block: (shifted) window attention then MLP, each pre-norm and residual."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        window_size: int,
        shift_size: int,
        mlp_ratio: float,
        qkv_bias: bool,
        drop: float,
        attn_drop: float,
        drop_path: float,
    ) -> None:
        super().__init__()
        if not 0 <= shift_size < window_size:
            raise ValueError(f"shift_size must be in [0, window_size), got {shift_size}")
        self.window_size, self.shift_size, self.drop_path = window_size, shift_size, drop_path
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window_size, num_heads, qkv_bias, attn_drop, drop)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = _Mlp(dim, int(dim * mlp_ratio), drop)

    def forward(self, x: Tensor, size: tuple[int, int], mask: Tensor | None) -> Tensor:
        """``x``: ``(B, H*W, C)``; ``mask``: the shifted-window mask for ``size`` (used if shifted)."""
        h, w = size
        b, _, c = x.shape
        ws, s = self.window_size, self.shift_size
        y = self.norm1(x).reshape(b, h, w, c)
        if s:
            y = torch.roll(y, shifts=(-s, -s), dims=(1, 2))
        y = self.attn(window_partition(y, ws), mask if s else None)
        y = window_reverse(y, ws, h, w)
        if s:
            y = torch.roll(y, shifts=(s, s), dims=(1, 2))
        x = x + _drop_path(y.reshape(b, h * w, c), self.drop_path, self.training)
        return x + _drop_path(self.mlp(self.norm2(x)), self.drop_path, self.training)

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
        # Official checkpoints store the mask for the training size; it is recomputed per call.
        state_dict.pop(prefix + "attn_mask", None)
        super()._load_from_state_dict(state_dict, prefix, *args)


class _BasicLayer(nn.Module):
    """A run of Swin blocks alternating plain and shifted windows (``residual_group``)."""

    def __init__(self, blocks: Sequence[SwinBlock]) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: Tensor, size: tuple[int, int], mask: Tensor | None) -> Tensor:
        for blk in self.blocks:
            x = blk(x, size, mask)
        return x


class RSTB(nn.Module):
    """Residual Swin transformer block: Swin blocks, a conv on the image grid, a skip connection."""

    def __init__(
        self,
        dim: int,
        depth: int,
        num_heads: int,
        window_size: int,
        mlp_ratio: float,
        qkv_bias: bool,
        drop: float,
        attn_drop: float,
        drop_path: Sequence[float],
        conv: nn.Module,
    ) -> None:
        super().__init__()
        self.residual_group = _BasicLayer(
            [
                SwinBlock(
                    dim,
                    num_heads,
                    window_size,
                    0 if i % 2 == 0 else window_size // 2,
                    mlp_ratio,
                    qkv_bias,
                    drop,
                    attn_drop,
                    drop_path[i],
                )
                for i in range(depth)
            ]
        )
        self.conv = conv

    def forward(self, x: Tensor, size: tuple[int, int], mask: Tensor | None) -> Tensor:
        b, _, c = x.shape
        y = self.residual_group(x, size, mask)
        y = self.conv(y.transpose(1, 2).reshape(b, c, size[0], size[1]))
        return y.flatten(2).transpose(1, 2) + x
