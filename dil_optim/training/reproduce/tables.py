"""The paper's tables as :class:`~dil_optim.training.reproduce.runner.TableSpec` values.

Each table holds only its settings: distortion family, seen and unseen levels, test sets and
the paper's published numbers. ``TABLES`` maps the name that ``dil-optim reproduce`` takes to
its spec.
"""

from __future__ import annotations

from .paper_numbers import TABLE1
from .runner import TableSpec

__all__ = ["TABLE1_SPEC", "TABLES"]

TABLE1_SPEC = TableSpec(
    name="table1",
    title="Table 1 (denoising, unseen noise levels)",
    kind="awgn",
    level_key="sigma",
    train_levels=(5, 10, 15, 20),
    eval_levels=(15, 20, 30, 40, 50),
    datasets=("CBSD68", "Kodak24", "McMaster", "Urban100", "Manga109"),
    paper={k: dict(v) for k, v in TABLE1.items()},
    figure="fig1",
)

TABLES: dict[str, TableSpec] = {s.name: s for s in (TABLE1_SPEC,)}
