"""Plain data that describes a reproduction: the methods, the profiles and a table's settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["METHODS", "BASELINES", "Profile", "PROFILES", "Backbone", "TableSpec", "method_variant"]

#: method key -> the label tables print. ``erm_bf``: ERM on the same backbone with every additive
#: bias removed (Mohan et al., ICLR 2020). ``erm_oracle``: ERM whose mixed batches also draw the
#: unseen test levels (the upper bound no training on the seen levels can pass at that scale).
METHODS = {
    "erm": "ERM",
    "sf": "DIL_sf",
    "pf": "DIL_pf",
    "ss": "DIL_ss",
    "ps": "DIL_ps",
    "erm_bf": "ERM_bf",
    "erm_oracle": "ERM_oracle",
}
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
    fast: the opt-in speed options of :mod:`dil_optim.training.fast` (none by default).
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
    fast: tuple[str, ...] = ()  # options of dil_optim.training.fast (bf16, channels_last, tf32, fused, compile)


PROFILES = {
    # supplementary Sec. 11.1: RRDB 64/23/32, 64x64 patches, batch 8, Adam 1e-4 halved at 200K/300K
    # of 400K iterations, L1. 400K iterations of batch 8 = 400K ge: ERM runs exactly that schedule.
    # init="authors": PyTorch's default conv-bias initialisation in the dense blocks, as the authors' RRDB
    "paper": Profile(
        "paper",
        "rrdb",
        64,
        8,
        400_000,
        1e-4,
        evals=4,
        checkpoint_every_ge=20_000,
        model_overrides=(("init", "authors"),),
    ),
    # chosen by measurement on a 2-core CPU, see docs/results.md
    # (workers=0: one process per job up to the CPU count; on 2 cores, 2 processes x 1 thread)
    "quick": Profile(
        "quick", "dncnn", 32, 8, 3_000, 1e-4, eval_images=8, eval_crop=192, evals=4, checkpoint_every_ge=500, workers=0
    ),
}


@dataclass(frozen=True)
class Backbone:
    """One backbone of a table that compares backbones (Table 6): its label and, per profile
    name, the :func:`~dil_optim.models.build_model` name it trains (a profile not listed keeps
    its own model)."""

    label: str  # "RRDB": prefixes the method labels ("RRDB/ERM") and names the jobs' folders
    models: Mapping[str, str] = field(default_factory=dict)  # profile name -> model name
    #: training levels of this "backbone" (Table 7 compares two *training distributions*, D1 and D2,
    #: on one network: a Backbone with the same model and its own confounders); empty: the table's
    train_levels: tuple[float, ...] = ()

    def model_for(self, profile: str, default: str) -> str:
        return self.models.get(profile, default)


@dataclass(frozen=True)
class TableSpec:
    """One table of the paper: its distortion family, levels, test sets and published numbers.

    ``datasets`` empty: no test sets (only the validation split is scored, as the scaling study does).

    Every field after ``figure`` has a default that keeps Table 1's behaviour:

    channel: ``"rgb"`` or ``"y"``: PSNR/SSIM on RGB or on the BT.601 luma (Table 3).
    level_names: level value -> the name the table prints and the command line accepts
        (Table 3's hybrid levels are numeric codes, ``1820`` = level sums 18-20 = "severe").
    seen_levels: test levels the training confounders cover without being one of them
        (Table 3 trains on the level sums 18, 19, 20 and tests "severe", their union).
    methods: the methods a run takes by default (``--methods``).
    paper_labels: our method label -> the label of the paper's column printed beside it
        (Table 2 prints "DIL" without naming the variant: ``{"DIL_sf": "DIL"}``).
    profiles: profile name -> overrides of its :class:`Profile` fields for this table
        (applied before the command line's).
    backbones: several backbones trained by one command (Table 6); empty: the profile's model.
    figure_xlabel: the figure's x-axis label (default ``"noise <level_key>"``).
    notes: lines the table's notes end with (e.g. which variant the paper's "DIL" sits beside).
    loss: the training loss, ``"l1"`` or ``"charbonnier"`` (``sqrt(d^2 + eps^2)``, eps 1e-3).
    train_datasets: training levels given as folders of pairs under ``--train-root`` (see the field).
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
    channel: str = "rgb"
    level_names: Mapping[float, str] = field(default_factory=dict)
    seen_levels: tuple[float, ...] = ()
    methods: tuple[str, ...] = DEFAULT_METHODS
    paper_labels: Mapping[str, str] = field(default_factory=dict)
    profiles: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    backbones: tuple[Backbone, ...] = ()
    figure_xlabel: str = ""
    notes: tuple[str, ...] = ()
    loss: str = "l1"  # "l1" or "charbonnier" (eps 1e-3; Table 4's deraining)
    #: level -> folder under --train-root holding that confounder as (degraded, clean) pairs
    #: (``input/`` + ``target/``, see :class:`~dil_optim.augment.PairedFolder`): used instead of
    #: the level's synthesis when every training level's folder is there (Table 4's rain datasets)
    train_datasets: Mapping[float, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.channel not in ("rgb", "y"):
            raise ValueError(f"channel must be 'rgb' or 'y', got {self.channel!r}")
        if self.loss not in ("l1", "charbonnier"):
            raise ValueError(f"loss must be 'l1' or 'charbonnier', got {self.loss!r}")

    def level_label(self, level: float) -> str:
        """How the table prints a level: its name, else ``f"{level:g}"``."""
        return self.level_names.get(level, f"{level:g}")

    def parse_level(self, text: str) -> float:
        """A level from the command line: one of ``level_names`` (any case) or a number."""
        for value, name in self.level_names.items():
            if text.strip().lower() == name.lower():
                return float(value)
        return float(text)

    def is_seen(self, level: float, train_levels: tuple[float, ...]) -> bool:
        """A test level the training covers: one of ``train_levels`` or of ``seen_levels``."""
        return level in train_levels or level in self.seen_levels

    def paper_label(self, method: str) -> str:
        """The paper's column beside our ``method`` (``"RRDB/DIL_sf"`` -> ``"RRDB/DIL"`` via ``DIL_sf``)."""
        prefix, _, base = method.rpartition("/")
        base = self.paper_labels.get(base, base)
        return f"{prefix}/{base}" if prefix else base

    def profile(self, profile: Profile) -> Profile:
        """``profile`` with this table's overrides for it."""
        from dataclasses import replace

        over = self.profiles.get(profile.name, {})
        return replace(profile, **over) if over else profile
