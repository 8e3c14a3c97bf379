"""Plain data that describes a reproduction: the methods, the profiles and a table's settings."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["METHODS", "BASELINES", "Profile", "PROFILES", "TableSpec", "method_variant"]

#: method key -> the label tables print. ``erm_bf``: ERM on the same backbone with every additive
#: bias removed (Mohan et al., ICLR 2020). ``erm_oracle``: ERM whose mixed batches also draw the
#: unseen test levels (the upper bound no training on the seen levels can pass at that scale).
METHODS = {"erm": "ERM", "sf": "DIL_sf", "pf": "DIL_pf", "ss": "DIL_ss", "ps": "DIL_ps",
           "erm_bf": "ERM_bf", "erm_oracle": "ERM_oracle"}
#: the methods a table runs by default
DEFAULT_METHODS = ("erm", "sf", "pf", "ss", "ps")
BASELINES = ("erm_bf", "erm_oracle")


def method_variant(method: str) -> str:
    """The :class:`~dil_optim.DILWrapper` variant a method trains with (the baselines are ERM)."""
    return "erm" if method in BASELINES else method


@dataclass(frozen=True)
class Profile:
    """Backbone, schedule and evaluation of one scale of the experiment.

    budget_ge: gradient evaluations (ge) per method under ``compute="equal-ge"``: each method's
        outer steps are ``budget_ge // ge_per_step``. Under ``"equal-steps"`` every method takes
        ``budget_ge`` outer steps (ERM's count), so the DIL variants spend more ge.
    lr: outer learning rate, tied to the inner/virtual one, multiplied by ``gamma`` at the
        fractions ``milestones`` of each method's steps (``()``: constant). ``lr_grid``: when
        not empty, each method trains once per value and the one with the best mean PSNR at
        the *seen* levels on the validation split is reported (``val_images`` > 0 needed).
    eval_images / eval_crop: evaluate on the first K images of each set / their centre
        ``crop`` x ``crop`` (None: all images, whole). evals: evaluations along training.
    val_images / val_crop: images held out of the training images for validation (0: none)
        and the centre crop they are scored on.
    model_overrides: keyword arguments for ``build_model(model, **overrides)``.
    """

    name: str
    model: str
    patch_size: int
    batch_size: int
    budget_ge: int
    lr: float
    milestones: tuple[float, ...] = (0.5, 0.75)
    gamma: float = 0.5
    eval_images: int | None = None
    eval_crop: int | None = None
    evals: int = 1
    checkpoint_every_ge: int = 20_000
    workers: int = 1
    threads: int | None = None
    compute: str = "equal-ge"
    lr_grid: tuple[float, ...] = ()
    val_images: int = 0
    val_crop: int | None = 128
    model_overrides: tuple[tuple[str, object], ...] = ()


PROFILES = {
    # supplementary Sec. 11.1: RRDB 64/23/32, 64x64 patches, batch 8, Adam 1e-4 halved at 200K/300K
    # of 400K iterations, L1. 400K iterations of batch 8 = 400K ge: ERM runs exactly that schedule.
    "paper": Profile("paper", "rrdb", 64, 8, 400_000, 1e-4, evals=4, checkpoint_every_ge=20_000),
    # chosen by measurement on a 2-core CPU, see docs/results.md
    # (workers=0: one process per job up to the CPU count; on 2 cores, 2 processes x 1 thread)
    "quick": Profile("quick", "dncnn", 32, 8, 3_000, 1e-4, eval_images=8, eval_crop=192, evals=4,
                     checkpoint_every_ge=500, workers=0),
}


@dataclass(frozen=True)
class TableSpec:
    """One table of the paper: its distortion family, levels, test sets and published numbers.

    ``datasets`` empty: no test sets (only the validation split is scored, as the scaling study does).
    """

    name: str  # file stem of the table, e.g. "table1"
    title: str
    kind: str  # key of DEGRADATIONS
    level_key: str  # "sigma"
    train_levels: tuple[float, ...]
    eval_levels: tuple[float, ...]
    datasets: tuple[str, ...]
    paper: dict[tuple[str, float], dict[str, tuple[float, float, float | None]]] = field(default_factory=dict)
    figure: str = "fig1"
