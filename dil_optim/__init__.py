"""dil-optim: Distortion-Invariant representation Learning (DIL, CVPR 2023) for PyTorch.

The public names are listed explicitly below. ``ConfounderSet``, ``GaussianNoise``,
``paper_confounders`` and ``build_model`` are re-exported from their subpackages on first use
(``dil_optim.augment`` imports torchvision's image codecs, which ``import dil_optim`` should not
pay for when only the wrapper is used).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .core.wrapper import VARIANTS, DILOptimizer, DILWrapper, StepStats

if TYPE_CHECKING:
    from .augment import ConfounderSet, GaussianNoise, paper_confounders
    from .models import build_model

__all__ = [
    "DILWrapper",
    "DILOptimizer",
    "StepStats",
    "VARIANTS",
    "ConfounderSet",
    "GaussianNoise",
    "paper_confounders",
    "build_model",
    "__version__",
]

__version__ = "0.1.0"

_LAZY = {
    "ConfounderSet": "augment",
    "GaussianNoise": "augment",
    "paper_confounders": "augment",
    "build_model": "models",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
