"""The reproduction's figure (like the paper's Fig. 1): PSNR against the distortion level, one
panel per test set, seen and unseen levels shaded, the seed range as error bars."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .summary import erm_label, mean

__all__ = ["save_figure", "write_figure"]


def write_figure(
    path: Path, spec: Any, jobs: list[Any], results: list[dict[str, Any]], inputs: list[dict[str, Any]], sets: list[Any]
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    key, levels = spec.level_key, list(jobs[0].levels)
    train = [v for v in levels if v in jobs[0].seen_levels] if spec.level_names else list(jobs[0].train_levels)
    unseen = [v for v in levels if v not in jobs[0].seen_levels]
    # named levels (hybrid) are categories: plotted at 0, 1, 2, ... in their order, named on the axis
    xs = {v: float(i) for i, v in enumerate(levels)} if spec.level_names else {v: v for v in levels}
    methods = list(dict.fromkeys(r["method"] for r in results))
    fig, axes = plt.subplots(1, len(sets), figsize=(max(6.5, 4.2 * len(sets)), 3.8), squeeze=False)
    for ax, (dataset, _, _) in zip(axes[0], sets):
        pad = 0.3 if spec.level_names else 0.0
        if train:
            ax.axvspan(
                min(xs.get(v, v) for v in train) - pad,
                max(xs.get(v, v) for v in train) + pad,
                color="tab:green",
                alpha=0.12,
                label="seen levels",
            )
        if unseen:
            ax.axvspan(
                min(xs[v] for v in unseen) - pad,
                max(xs[v] for v in unseen) + pad,
                color="tab:red",
                alpha=0.08,
                label="unseen levels",
            )
        # the levels this set is scored at (a paired real set's own inputs only exist on it; DND: none)
        lv = [v for v in levels if any(r["dataset"] == dataset and r[key] == v for r in inputs)]
        noisy = [mean([r["psnr"] for r in inputs if r["dataset"] == dataset and r[key] == v]) for v in lv]
        ax.plot(
            [xs[v] for v in lv],
            noisy,
            ":",
            color="grey",
            label="noisy input" if spec.kind == "awgn" else "degraded input",
        )
        for m in methods:
            per = [
                [r["psnr"] for r in results if r["method"] == m and r["dataset"] == dataset and r[key] == v] for v in lv
            ]
            if not all(per):
                continue
            mus = [mean(p) for p in per]
            err = [[mu - min(p) for mu, p in zip(mus, per)], [max(p) - mu for mu, p in zip(mus, per)]]
            is_erm = m == erm_label(m)
            ax.errorbar(
                [xs[v] for v in lv],
                mus,
                yerr=err,
                marker="o",
                ms=3,
                capsize=2,
                lw=2.0 if is_erm else 1.2,
                ls="--" if is_erm else "-",
                label=m,
            )
        if spec.level_names:
            ax.set_xticks([xs[v] for v in levels], [spec.level_label(v) for v in levels])
        ax.set_title(dataset)
        ax.set_xlabel(spec.figure_xlabel or f"noise {key}")
        ax.set_ylabel("PSNR (dB)")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"{spec.title}\nPSNR against {key}, seen and unseen levels shaded", fontsize=10)
    save_figure(fig, path, dpi=120)


def save_figure(fig: Any, path: Path, dpi: int) -> None:
    """Lay out a matplotlib figure, write it to a temporary file, move that onto ``path`` (atomic), close it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    fig.savefig(tmp, dpi=dpi)
    plt.close(fig)
    os.replace(tmp, path)
