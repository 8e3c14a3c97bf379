"""dil-optim: Distortion-Invariant representation Learning (DIL, CVPR 2023) for PyTorch.

The public names are imported explicitly below; everything else lives in its submodule
(``dil_optim.augment``, ``dil_optim.data``, ``dil_optim.metrics``, ``dil_optim.models``).
"""

from __future__ import annotations

from .wrapper import VARIANTS, DILOptimizer, DILWrapper, StepStats

__all__ = ["DILWrapper", "DILOptimizer", "StepStats", "VARIANTS", "__version__"]

__version__ = "0.1.0"
