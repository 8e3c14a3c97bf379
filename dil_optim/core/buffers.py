"""BatchNorm running statistics the way the DIL authors' code leaves them (an opt-in).

In the authors' code the meta network, the one whose weights are kept and evaluated, never runs
a training-mode forward pass: the inner steps run on a task copy loaded from its state, and
only gradients come back. So the kept network's BatchNorm running statistics keep their initial
values (mean 0, variance 1) for the whole run. dil-optim's inner steps run on the real module,
so its running statistics accumulate as ordinary training would accumulate them (the default,
and what evaluation in eval mode expects).

:func:`freeze_running_stats` reproduces the authors' behaviour at no cost: momentum 0 makes each
update ``running = (1 - 0) running + 0 * batch``, so the statistics never move, while training
mode still normalises with the batch statistics as before.
"""

from __future__ import annotations

from torch import nn

__all__ = ["freeze_running_stats"]


def freeze_running_stats(model: nn.Module) -> int:
    """Set ``momentum = 0`` on every BatchNorm / InstanceNorm layer that tracks running
    statistics, so training keeps them at their current values; returns how many layers changed.

    Call it once after building (or loading) the model: the statistics then stay at the values
    they had, their initial ones for a fresh model, as in the DIL authors' code. ``num_batches_tracked`` still
    counts steps; with ``momentum=None`` (a cumulative average) that counter would matter, so such
    layers are set to 0 as well.
    """
    changed = 0
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._NormBase) and m.track_running_stats:
            m.momentum = 0.0
            changed += 1
    return changed
