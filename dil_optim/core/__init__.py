"""The optimizer core: :class:`DILWrapper` and the maths of its variants.

Depends on torch only (``higher`` optionally); nothing here imports the training application
(:mod:`dil_optim.training`) or the domain libraries (augment, data, metrics, models).
"""

from .wrapper import VARIANTS, DILOptimizer, DILWrapper, StepStats

__all__ = ["VARIANTS", "DILOptimizer", "DILWrapper", "StepStats"]
