"""The training application: the train loop, configs, checkpoints, evaluation and the
reproduction of the paper's tables (:mod:`dil_optim.training.reproduce`).

Built on :mod:`dil_optim.core` and the domain libraries; nothing below imports from here.
"""
