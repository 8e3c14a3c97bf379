"""``build_model(name, **overrides)``: the named backbone configurations, no registry."""

from __future__ import annotations

import inspect
from typing import Any

from torch import nn

from .dncnn import DnCNN
from .rrdb import RRDBNet
from .swinir import SwinIR

__all__ = ["MODEL_NAMES", "build_model", "model_config"]

MODEL_NAMES: tuple[str, ...] = ("rrdb", "rrdb_small", "swinir", "swinir_small", "dncnn")

#: the official colour-denoising SwinIR (KAIR train_swinir_denoising_color); ``swinir_small`` shrinks it
_SWINIR_DENOISE_COLOR: dict[str, Any] = dict(
    in_chans=3,
    embed_dim=180,
    depths=(6,) * 6,
    num_heads=(6,) * 6,
    window_size=8,
    mlp_ratio=2.0,
    upscale=1,
    img_range=1.0,
    upsampler="",
    resi_connection="1conv",
    drop_path_rate=0.1,
)


def model_config(name: str) -> tuple[type[nn.Module], dict[str, Any]]:
    """The class and keyword arguments that ``build_model(name)`` uses (a fresh dict each call)."""
    if name == "rrdb":  # DIL paper / ESRGAN: 64 features, 23 RRDBs, growth 32, full-res x1
        return RRDBNet, dict(num_in_ch=3, num_out_ch=3, scale=1, num_feat=64, num_block=23, num_grow_ch=32)
    if name == "rrdb_small":  # narrow and shallow, for CPU profiles
        return RRDBNet, dict(num_in_ch=3, num_out_ch=3, scale=1, num_feat=32, num_block=2, num_grow_ch=16)
    if name == "swinir":
        return SwinIR, dict(_SWINIR_DENOISE_COLOR)
    if name == "swinir_small":  # two RSTBs of two blocks, width 48, for CPU profiles
        return SwinIR, {
            **_SWINIR_DENOISE_COLOR,
            "embed_dim": 48,
            "depths": (2, 2),
            "num_heads": (4, 4),
            "drop_path_rate": 0.0,
        }
    if name == "dncnn":  # the pilot's net: 6 layers, 32 channels, residual, no BatchNorm
        return DnCNN, dict(in_ch=3, out_ch=3, depth=6, width=32, residual=True, batchnorm=False)
    raise ValueError(f"unknown model name {name!r}; choose one of {', '.join(MODEL_NAMES)}")


def build_model(name: str, **overrides: Any) -> nn.Module:
    """Build a freshly initialised backbone by name; ``overrides`` replace constructor arguments.

    Names: ``"rrdb"`` (the paper's RRDBNet, scale 1; ``scale=4`` for real-world SR),
    ``"rrdb_small"``, ``"swinir"`` (official denoising configuration), ``"swinir_small"``,
    ``"dncnn"``. Every model maps ``(N, 3, H, W)`` to ``(N, 3, s*H, s*W)`` for any H, W.
    Initialisation draws from the global RNG (seed it with ``torch.manual_seed``).

    Raises:
        TypeError: ``name`` is not a str, or an override is not an argument of the class.
        ValueError: unknown ``name``, or an override value the class rejects.
    """
    if not isinstance(name, str):
        raise TypeError(f"model name must be a str, got {type(name).__name__}")
    cls, kwargs = model_config(name)
    allowed = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(overrides) - set(allowed))
    if unknown:
        raise TypeError(
            f"build_model({name!r}): unknown override(s) {unknown} for {cls.__name__}; allowed: {', '.join(allowed)}"
        )
    kwargs.update(overrides)
    return cls(**kwargs)
