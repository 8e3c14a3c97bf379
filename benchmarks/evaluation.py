"""Moved to :mod:`dil_optim.evaluation` (the ``dil-optim eval`` command uses it too)."""

from dil_optim.evaluation import DEGRADATIONS, Evaluator, centre_crop, load_test_sets, train_images

__all__ = ["DEGRADATIONS", "Evaluator", "centre_crop", "load_test_sets", "train_images"]
