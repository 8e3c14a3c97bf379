"""Visual comparison in the manner of the paper's Fig. 4: crops of the degraded input, every
method's output and the clean image, at one unseen level, on two test images: the one where
the methods' PSNRs differ most and the one of median PSNR."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from .figure import save_figure
from .jobs import Job, trained_model

__all__ = ["pick_images", "write_crops"]


def pick_images(records: list[dict[str, Any]], level: float) -> list[tuple[str, int, str]]:
    """``[(dataset, image index, why)]``: the image with the widest spread of PSNR over the
    methods (first seed), then the image of median mean PSNR (when it is another image)."""
    seed = records[0]["seed"]
    per: dict[tuple[str, int], list[float]] = {}
    for r in (r for r in records if r["seed"] == seed):
        for row in r["final"]:
            if row["level"] == level:
                for i, p in enumerate(row["psnr_per_image"]):
                    per.setdefault((row["dataset"], i), []).append(p)
    if not per:
        return []
    widest = max(per, key=lambda k: max(per[k]) - min(per[k]))
    order = sorted(per, key=lambda k: statistics.fmean(per[k]))
    median = order[len(order) // 2]
    picks = [(widest[0], widest[1], "methods differ most")]
    if median != widest:
        picks.append((median[0], median[1], "median PSNR"))
    return picks


def _window(outputs: list[torch.Tensor], size: int) -> tuple[int, int]:
    """Top-left corner of the ``size`` x ``size`` window where the outputs disagree most."""
    spread = torch.stack(outputs).std(dim=0, correction=0).mean(dim=1, keepdim=True)  # (1, 1, H, W)
    score = F.avg_pool2d(spread, size, stride=max(1, size // 4))
    idx = int(score.flatten().argmax())
    w = score.shape[-1]
    stride = max(1, size // 4)
    return (idx // w) * stride, (idx % w) * stride


@torch.no_grad()
def write_crops(
    path: Path,
    jobs: list[Job],
    records: list[dict[str, Any]],
    sets: list[Any],
    evaluator: Any,
    level: float,
    key: str,
    crop: int = 96,
) -> Path | None:
    """Write the comparison figure to ``path`` (PNG); None when there is nothing to show.

    ``jobs``/``records``: the table's runs (one per method is used: the first seed's);
    ``evaluator``: the :class:`~dil_optim.training.evaluation.Evaluator` whose seeded
    degradation made the test inputs, so the crops show exactly what was scored.
    """
    picks = pick_images(records, level)
    if not picks:
        return None
    seed = records[0]["seed"]
    runs = [(j, r) for j, r in zip(jobs, records) if r["seed"] == seed]
    models = [(r["method"], trained_model(j)) for j, r in runs]
    images = {name: imgs for name, imgs, _ in sets}
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = 2 + len(models)
    fig, axes = plt.subplots(len(picks), cols, figsize=(1.9 * cols, 2.2 * len(picks)), squeeze=False)
    for row, (dataset, i, why) in enumerate(picks):
        file, clean = images[dataset][i]
        degraded = evaluator.degraded(dataset, file, clean, level)
        outs = [m(degraded).clamp(0, 1) for _, m in models]
        if degraded.shape[-2:] != clean.shape[-2:]:  # SR: show the input at the output's size
            degraded = F.interpolate(degraded, size=clean.shape[-2:], mode="nearest")
        size = min(crop, clean.shape[-2], clean.shape[-1])
        top, left = _window(outs, size)
        panels = [("degraded", degraded[0])] + [(name, o[0]) for (name, _), o in zip(models, outs)] + [("clean", clean)]
        for col, (name, img) in enumerate(panels):
            ax = axes[row][col]
            ax.imshow(img[:, top : top + size, left : left + size].permute(1, 2, 0).clamp(0, 1).numpy())
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0 or col == 0:
                ax.set_title(name, fontsize=8)
        axes[row][0].set_ylabel(f"{dataset} {file}\n({why})", fontsize=7)
    fig.suptitle(f"{key} = {level:g} (unseen), seed {seed}: crops where the outputs differ most", fontsize=9)
    save_figure(fig, path, dpi=110)
    return path
