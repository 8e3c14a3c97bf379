"""What each standard test set should contain, and where data roots are looked for.

The expected files (name, size in pixels and bytes, sha256 of the file, sha256 of its decoded
RGB pixels, a download URL) ship as package data in ``dil_optim/data/manifests/<set>.tsv``.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

#: Environment variable naming a data root (``<root>/<SetName>/<file>``).
DATA_ENV_VAR = "DIL_OPTIM_DATA"


@dataclass(frozen=True)
class FileRecord:
    """One expected file of a test set.

    ``sha256`` is the file's own checksum; ``pixels_sha256`` the checksum of its decoded pixels
    as a C-ordered ``(H, W, 3)`` uint8 array (grayscale repeated to 3 channels), which accepts
    a lossless re-encoding of the same image. ``url`` serves the file itself when
    ``source_sha256`` is empty, else a source (TIFF/JPEG) with that checksum that decodes to the
    same pixels. Empty ``url``: no public download known.
    """

    file: str
    width: int
    height: int
    size: int
    sha256: str
    pixels_sha256: str
    url: str = ""
    source_sha256: str = ""


@dataclass(frozen=True)
class TestSetSpec:
    """A standard test set: its canonical (folder) name, expected image count, where it comes from."""

    __test__ = False
    name: str
    count: int
    description: str
    citation: str
    how_to_get: str
    has_manifest: bool = True
    aliases: tuple[str, ...] = ()


_HOW_DOWNLOAD = ("download it with dil_optim.data.download_test_set({name!r}, data_root=...) "
                 "or `python -m dil_optim.data.downloader {name} --data-root DIR`")

_SPECS: tuple[TestSetSpec, ...] = (
    TestSetSpec("CBSD68", 68, "colour BSD68: the 68 BSDS300 test images chosen by Roth & Black",
                "Martin et al., ICCV 2001; Roth & Black, CVPR 2005",
                _HOW_DOWNLOAD + " (source: cszn/FFDNet testsets/CBSD68)"),
    TestSetSpec("Kodak24", 24, "Kodak PhotoCD images kodim01..kodim24, 768x512 or 512x768",
                "Kodak Lossless True Color Image Suite (Franzen, 1999)",
                _HOW_DOWNLOAD + " (source: cszn/IRCNN testsets/Set24)", aliases=("Kodak",)),
    TestSetSpec("McMaster", 18, "McMaster (IMAX) colour set, 18 images 500x500",
                "Zhang, Wu, Buades, Li, J. Electronic Imaging 2011",
                _HOW_DOWNLOAD + " (source: the TIFFs of cszn/FFDNet testsets/McMaster, saved as PNG"
                " without loss)", aliases=("McM",)),
    TestSetSpec("Set5", 5, "SR benchmark HR images baby, bird, butterfly, head, woman",
                "Bevilacqua et al., BMVC 2012", _HOW_DOWNLOAD + " (source: majedelhelou/denoising_datasets CSet5)"),
    TestSetSpec("Set14", 14, "SR benchmark HR images (bridge.png is grayscale)",
                "Zeyde, Elad, Protter, Curves and Surfaces 2010",
                _HOW_DOWNLOAD + " (source: majedelhelou/denoising_datasets CSet14)"),
    TestSetSpec("BSD100", 100, "the 100 BSDS300 test images (B100); 68 of them are CBSD68's",
                "Martin et al., ICCV 2001",
                _HOW_DOWNLOAD + " (sources: cszn/FFDNet testsets/CBSD68 and the BSDS JPEGs of"
                " Magauiya/Extended_SURE, saved as PNG without loss)", aliases=("B100",)),
    TestSetSpec("Urban100", 100, "urban scenes, HR images img_001..img_100",
                "Huang, Singh, Ahuja, CVPR 2015",
                _HOW_DOWNLOAD + " (source: majedelhelou/denoising_datasets CUrban100)"),
    TestSetSpec("Manga109", 109, "109 manga volumes, one image each, as the SR literature uses them",
                "Matsui et al., Multimedia Tools and Applications 2017",
                "its terms allow academic use only and forbid redistribution, so it is not downloaded "
                "here: request it from http://www.manga109.org/ and put the 109 images in the "
                "folder named above", has_manifest=False),
    TestSetSpec("DIV2K", 100, "the DIV2K validation HR images 0801.png..0900.png (2K resolution), "
                "the hybrid-distortion test set of the DIL paper's Table 3",
                "Agustsson & Timofte, NTIRE 2017 (CVPR Workshops)",
                "it is not downloaded here and no checksums are recorded for it (only its count of 100 is "
                "checked): get DIV2K_valid_HR.zip from https://data.vision.ee.ethz.ch/cvl/DIV2K/ and put "
                "its 100 images 0801.png to 0900.png in the folder named above", has_manifest=False,
                aliases=("DIV2K_valid_HR", "DIV2K-val")),
)


def known_test_sets() -> tuple[str, ...]:
    """Canonical names of the registered test sets (``"builtin"`` is separate, see ``TestSet``)."""
    return tuple(s.name for s in _SPECS)


def lookup_test_set(name: str) -> TestSetSpec:
    """The spec for ``name`` (case-insensitive; aliases such as ``B100`` accepted).

    ``ValueError`` listing the known names if there is none.
    """
    if not isinstance(name, str):
        raise TypeError(f"test set name must be a str, got {type(name).__name__}")
    key = name.strip().lower()
    for spec in _SPECS:
        if key == spec.name.lower() or key in (a.lower() for a in spec.aliases):
            return spec
    raise ValueError(f"unknown test set {name!r}; known: {', '.join(known_test_sets())}, builtin")


@functools.cache
def manifest(name: str) -> tuple[FileRecord, ...]:
    """The expected files of test set ``name`` in their evaluation order (``()`` if no manifest)."""
    spec = lookup_test_set(name)
    if not spec.has_manifest:
        return ()
    text = resources.files("dil_optim.data").joinpath("manifests").joinpath(f"{spec.name}.tsv").read_text("utf-8")
    records = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        f = line.split("\t")
        if len(f) != 8:
            raise ValueError(f"malformed line in the {spec.name} manifest: {line!r}")
        records.append(FileRecord(f[0], int(f[1]), int(f[2]), int(f[3]), f[4], f[5], f[6], f[7]))
    return tuple(records)


def cache_home() -> Path:
    """``$XDG_CACHE_HOME/dil_optim`` (default ``~/.cache/dil_optim``)."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "dil_optim"


def default_cache_root() -> Path:
    """The user cache data root, ``<cache_home()>/datasets``."""
    return cache_home() / "datasets"


def candidate_roots(data_root: str | os.PathLike[str] | None = None) -> list[Path]:
    """Data roots in look-up order: ``data_root`` (``--data-root``), then ``$DIL_OPTIM_DATA``,
    then the user cache folder. Duplicates are dropped; roots need not exist."""
    roots: list[Path] = []
    if data_root is not None:
        roots.append(Path(data_root).expanduser())
    env = os.environ.get(DATA_ENV_VAR)
    if env:
        roots.append(Path(env).expanduser())
    roots.append(default_cache_root())
    unique: list[Path] = []
    for r in roots:
        if all(os.path.abspath(r) != os.path.abspath(u) for u in unique):
            unique.append(r)
    return unique


def resolve_set_dir(name: str, data_root: str | os.PathLike[str] | None = None) -> Path | None:
    """The first ``<root>/<SetName>`` directory that exists, in :func:`candidate_roots` order."""
    spec = lookup_test_set(name)
    for root in candidate_roots(data_root):
        if (root / spec.name).is_dir():
            return root / spec.name
    return None
