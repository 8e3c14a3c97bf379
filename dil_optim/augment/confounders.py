"""Confounder sets: one clean batch -> the list of counterfactual ``(degraded_i, clean)`` pairs.

``ConfounderSet(degradations)(clean)`` is what :meth:`dil_optim.DILWrapper.step` takes as
``confounder_batches``. :func:`paper_confounders` builds the sets of the DIL paper's tasks
(supplementary Sec. 11.2) together with their unseen test distortions.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Union

import torch
from torch import Tensor

from .base import Compose, Degradation, check_batch, check_generator, randint
from .blur import GaussianBlur
from .dataset import PairedFolder
from .hybrid import HybridDistortion
from .isp import CFA_PATTERNS, CameraNoise
from .noise import GaussianNoise
from .rain import TRAIN_RAIN_STYLES, UNSEEN_RAIN_STYLE, rain_style
from .realesrgan import RealESRGANDegradation, realesrgan_confounders
from .resize import Downsample

__all__ = ["ConfounderSet", "paper_confounders", "folder_confounders", "PAPER_TASKS"]

Confounder = Union[Degradation, PairedFolder, Callable[..., Tensor]]
PAPER_TASKS = ("denoise", "deblur", "hybrid", "realsr", "realsr2", "realdenoise", "derain")


def _name_of(d: Any) -> str:
    return str(getattr(d, "name", None) or type(d).__name__)


class ConfounderSet:
    """A set of confounders ``d_1 .. d_n`` turning clean batches into counterfactual pairs.

    Args:
        degradations: a sequence of degradations (callables ``d(x, generator) -> Tensor``,
            usually :class:`~dil_optim.augment.Degradation` objects) or
            :class:`~dil_optim.augment.PairedFolder` dataset confounders; or a mapping
            ``name -> confounder``.
        content: ``"shared"`` (default, the paper's counterfactual augmentation): every
            confounder degrades the *same* clean batch. ``"independent"`` (what the
            authors' code does): each confounder gets its own clean batch; ``clean`` is then
            either one tensor whose batch splits into ``len(set)`` equal chunks (chunk ``i``
            goes to confounder ``i``) or a sequence of ``len(set)`` tensors. Dataset
            confounders need ``"independent"``: they replace their chunk by crops of their
            own pairs of the chunk's size.
        names: optional labels (default: the mapping keys, or each confounder's ``name``).

    Raises:
        ValueError: empty set, duplicate names, unknown ``content``, or a dataset confounder
            with ``content="shared"``.
        TypeError: a member that is neither callable nor a dataset confounder.
    """

    def __init__(
        self,
        degradations: Sequence[Confounder] | Mapping[str, Confounder],
        content: str = "shared",
        *,
        names: Sequence[str] | None = None,
    ) -> None:
        if isinstance(degradations, Mapping):
            items = list(degradations.values())
            default_names = [str(k) for k in degradations.keys()]
        else:
            items = list(degradations)
            default_names = [_name_of(d) for d in items]
        if not items:
            raise ValueError("a ConfounderSet needs at least one confounder")
        for d in items:
            if not (isinstance(d, PairedFolder) or callable(d)):
                raise TypeError(f"confounders must be degradations (callables) or PairedFolder, got {type(d).__name__}")
        if content not in ("shared", "independent"):
            raise ValueError(f"content must be 'shared' or 'independent', got {content!r}")
        if content == "shared" and any(isinstance(d, PairedFolder) for d in items):
            raise ValueError(
                "dataset confounders (PairedFolder) cannot degrade a shared clean batch; use content='independent'"
            )
        names = list(names) if names is not None else default_names
        if len(names) != len(items):
            raise ValueError(f"got {len(names)} names for {len(items)} confounders")
        if len(set(names)) != len(names):
            raise ValueError(f"confounder names must be unique, got {names}")
        self.degradations: list[Confounder] = items
        self.content = content
        self.names: list[str] = names

    def __len__(self) -> int:
        return len(self.degradations)

    def __getitem__(self, index: int) -> Confounder:
        return self.degradations[index]

    def _split(self, clean: Tensor | Sequence[Tensor]) -> list[Tensor]:
        n = len(self)
        if isinstance(clean, Tensor):
            check_batch(clean, name="clean", check_range=False)
            if clean.shape[0] % n != 0:
                raise ValueError(
                    f"content='independent' needs a clean batch that splits into {n} equal chunks "
                    f"(one per confounder), got batch size {clean.shape[0]}"
                )
            return list(clean.split(clean.shape[0] // n))
        if isinstance(clean, Sequence) and not isinstance(clean, str):
            chunks = list(clean)
            if len(chunks) != n:
                raise ValueError(
                    f"content='independent' needs {n} clean batches (one per confounder), got {len(chunks)}"
                )
            for i, c in enumerate(chunks):
                check_batch(c, name=f"clean[{i}]", check_range=False)
            return chunks
        raise TypeError(f"clean must be a tensor or a sequence of tensors, got {type(clean).__name__}")

    @staticmethod
    def _pair(d: Confounder, clean: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        if isinstance(d, PairedFolder):
            return d.sample(clean.shape[0], tuple(clean.shape[-2:]), generator, device=clean.device, dtype=clean.dtype)
        return d(clean, generator), clean

    def __call__(
        self, clean: Tensor | Sequence[Tensor], generator: torch.Generator | None = None
    ) -> list[tuple[Tensor, Tensor]]:
        """The counterfactual pairs ``[(d_1(clean), clean), ..., (d_n(clean), clean)]``.

        Args:
            clean: ``(N, C, H, W)`` float in ``[0, 1]`` (``"shared"``), or see ``content``.
            generator: optional RNG for every confounder, used in order.

        Returns:
            ``len(self)`` pairs ``(degraded_i, clean_i)``; with ``"shared"`` every ``clean_i``
            is the input tensor itself (not a copy; it is never modified).
        """
        check_generator(generator)
        if self.content == "shared":
            if not isinstance(clean, Tensor):
                raise TypeError(f"content='shared' takes one clean tensor (N, C, H, W), got {type(clean).__name__}")
            check_batch(clean, name="clean", check_range=False)
            return [self._pair(d, clean, generator) for d in self.degradations]
        return [self._pair(d, c, generator) for d, c in zip(self.degradations, self._split(clean))]

    def sample_mixed(self, clean: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """One batch where each sample gets a confounder drawn uniformly (the fair ERM baseline).

        Args:
            clean: ``(N, C, H, W)`` float in ``[0, 1]``.

        Returns:
            ``(degraded, clean)``: ``degraded[i] = d_k(clean[i])`` with ``k`` uniform per sample.
            ``clean`` is the input itself unless a dataset confounder replaced some samples
            (then a new tensor holding those samples' own clean crops).
        """
        check_generator(generator)
        if not isinstance(clean, Tensor):
            raise TypeError(f"clean must be a tensor (N, C, H, W), got {type(clean).__name__}")
        check_batch(clean, name="clean", check_range=False)
        choice = randint(len(self), (clean.shape[0],), generator, clean.device)
        degraded: Tensor | None = None
        clean_out = clean
        for k, d in enumerate(self.degradations):
            sel = torch.nonzero(choice == k).flatten()
            if sel.numel() == 0:
                continue
            deg_k, clean_k = self._pair(d, clean.index_select(0, sel), generator)
            if degraded is None:
                degraded = deg_k.new_empty((clean.shape[0], *deg_k.shape[1:]))
            elif degraded.shape[1:] != deg_k.shape[1:]:
                raise ValueError(
                    f"confounders give different output shapes: {tuple(degraded.shape[1:])} and "
                    f"{tuple(deg_k.shape[1:])} ({self.names[k]}); they cannot be mixed in one batch"
                )
            degraded.index_copy_(0, sel, deg_k)
            if isinstance(d, PairedFolder):
                if clean_out is clean:
                    clean_out = clean.clone()
                clean_out.index_copy_(0, sel, clean_k)
        assert degraded is not None
        return degraded, clean_out

    def __repr__(self) -> str:
        inner = ", ".join(f"{nm}={d!r}" for nm, d in zip(self.names, self.degradations))
        return f"ConfounderSet([{inner}], content={self.content!r})"


def folder_confounders(
    roots: Mapping[str, str | os.PathLike[str]] | Sequence[str | os.PathLike[str]], **folder_kwargs: Any
) -> ConfounderSet:
    """A ``content="independent"`` set with one :class:`PairedFolder` per dataset (e.g. one per rain type).

    ``roots`` maps names to folders (or is a list of folders, named after them);
    ``folder_kwargs`` go to every :class:`PairedFolder`.
    """
    if isinstance(roots, Mapping):
        folders = [PairedFolder(r, name=str(k), **folder_kwargs) for k, r in roots.items()]
    else:
        folders = [PairedFolder(r, **folder_kwargs) for r in roots]
    return ConfounderSet(folders, content="independent")


def paper_confounders(
    task: str, *, scale: int = 4, content: str = "shared"
) -> tuple[ConfounderSet, dict[str, Degradation]]:
    """The DIL paper's training confounders for ``task`` and its unseen test distortions.

    Tasks (supplementary Sec. 11.2):

    * ``"denoise"``: AWGN sigma 5, 10, 15, 20; unseen 30, 40, 50 (0-255 scale).
    * ``"deblur"``: Gaussian blur sigma 1, 2, 3, 4; unseen 4.2, 4.4, 4.6, 4.8, 5.0.
    * ``"hybrid"``: severe hybrid distortions, one confounder per level sum 18, 19, 20;
      unseen mild and moderate (see :mod:`.hybrid`).
    * ``"realsr"``: Real-ESRGAN first-order model split by blur type (isotropic /
      anisotropic) x noise type (Gaussian / Poisson), SR factor ``scale``.
    * ``"realsr2"``: the same split of the second-order model (Table 7's D2).
    * ``"realdenoise"``: CBDNet-style camera noise, one confounder per CFA pattern
      (RGGB, BGGR, GRBG, GBRG).
    * ``"derain"``: the synthetic stand-in of the paper's three rain datasets: the rain-streak
      styles ``drizzle``, ``streaks``, ``heavy`` (:mod:`.rain`); unseen ``storm``, outside all
      their parameter ranges. The paper's own confounders are datasets: :func:`folder_confounders`.

    The paper tests ``realsr``/``realsr2`` on real data (RealSR V3, DRealSR) and
    ``realdenoise`` on SIDD/DND; those are datasets, not degradations. The dict returned
    for these tasks holds synthetic stand-ins for distortion types outside the training
    set: ``"isp_noise_x<scale>"`` (bicubic downsampling, then camera noise) for both SR
    tasks, plus ``"realesrgan_second_order"`` for ``realsr``; and ``"isp_nocfa"`` (camera
    noise without a colour filter array) for ``realdenoise``.

    Returns:
        ``(train_set, unseen)``: a :class:`ConfounderSet` and a dict ``name -> degradation``.
    """
    if task == "denoise":
        train = ConfounderSet([GaussianNoise(s, name=f"awgn{s}") for s in (5, 10, 15, 20)], content)
        unseen: dict[str, Degradation] = {f"awgn{s}": GaussianNoise(s, name=f"awgn{s}") for s in (30, 40, 50)}
    elif task == "deblur":
        train = ConfounderSet([GaussianBlur(s, name=f"blur{s:g}") for s in (1.0, 2.0, 3.0, 4.0)], content)
        unseen = {f"blur{s:g}": GaussianBlur(s, name=f"blur{s:g}") for s in (4.2, 4.4, 4.6, 4.8, 5.0)}
    elif task == "hybrid":
        train = ConfounderSet([HybridDistortion(s, name=f"hybrid_severe{s}") for s in (18, 19, 20)], content)
        unseen = {lv: HybridDistortion(lv, name=f"hybrid_{lv}") for lv in ("mild", "moderate")}
    elif task in ("realsr", "realsr2"):
        order = 1 if task == "realsr" else 2
        train = ConfounderSet(realesrgan_confounders(order, scale), content)
        proxy = Compose([Downsample(scale, "bicubic"), CameraNoise("RGGB")], name=f"isp_noise_x{scale}")
        unseen = {proxy.name: proxy}
        if order == 1:
            unseen["realesrgan_second_order"] = RealESRGANDegradation(2, scale, name="realesrgan_second_order")
    elif task == "realdenoise":
        train = ConfounderSet([CameraNoise(p) for p in CFA_PATTERNS], content)
        unseen = {"isp_nocfa": CameraNoise(None)}
    elif task == "derain":
        train = ConfounderSet([rain_style(s) for s in TRAIN_RAIN_STYLES], content)
        unseen = {f"rain_{UNSEEN_RAIN_STYLE}": rain_style(UNSEEN_RAIN_STYLE)}
    else:
        raise ValueError(f"unknown task {task!r}; expected one of {PAPER_TASKS}")
    return train, unseen
