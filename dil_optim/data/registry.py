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
    #: ``""``: a folder of clean images; else the layout of a paired real set, read by
    #: :mod:`dil_optim.data.realsets` (``"sidd_blocks"``, ``"dnd"``, ``"realsr_v3"``, ``"drealsr"``,
    #: ``"derain"``); ``count`` is then its number of (degraded, clean) pairs
    paired: str = ""


_HOW_DOWNLOAD = (
    "download it with dil_optim.data.download_test_set({name!r}, data_root=...) "
    "or `python -m dil_optim.data.downloader {name} --data-root DIR`"
)

_SPECS: tuple[TestSetSpec, ...] = (
    TestSetSpec(
        "CBSD68",
        68,
        "colour BSD68: the 68 BSDS300 test images chosen by Roth & Black",
        "Martin et al., ICCV 2001; Roth & Black, CVPR 2005",
        _HOW_DOWNLOAD + " (source: cszn/FFDNet testsets/CBSD68)",
    ),
    TestSetSpec(
        "Kodak24",
        24,
        "Kodak PhotoCD images kodim01..kodim24, 768x512 or 512x768",
        "Kodak Lossless True Color Image Suite (Franzen, 1999)",
        _HOW_DOWNLOAD + " (source: cszn/IRCNN testsets/Set24)",
        aliases=("Kodak",),
    ),
    TestSetSpec(
        "McMaster",
        18,
        "McMaster (IMAX) colour set, 18 images 500x500",
        "Zhang, Wu, Buades, Li, J. Electronic Imaging 2011",
        _HOW_DOWNLOAD + " (source: the TIFFs of cszn/FFDNet testsets/McMaster, saved as PNG without loss)",
        aliases=("McM",),
    ),
    TestSetSpec(
        "Set5",
        5,
        "SR benchmark HR images baby, bird, butterfly, head, woman",
        "Bevilacqua et al., BMVC 2012",
        _HOW_DOWNLOAD + " (source: majedelhelou/denoising_datasets CSet5)",
    ),
    TestSetSpec(
        "Set14",
        14,
        "SR benchmark HR images (bridge.png is grayscale)",
        "Zeyde, Elad, Protter, Curves and Surfaces 2010",
        _HOW_DOWNLOAD + " (source: majedelhelou/denoising_datasets CSet14)",
    ),
    TestSetSpec(
        "BSD100",
        100,
        "the 100 BSDS300 test images (B100); 68 of them are CBSD68's",
        "Martin et al., ICCV 2001",
        _HOW_DOWNLOAD + " (sources: cszn/FFDNet testsets/CBSD68 and the BSDS JPEGs of"
        " Magauiya/Extended_SURE, saved as PNG without loss)",
        aliases=("B100",),
    ),
    TestSetSpec(
        "Urban100",
        100,
        "urban scenes, HR images img_001..img_100",
        "Huang, Singh, Ahuja, CVPR 2015",
        _HOW_DOWNLOAD + " (source: majedelhelou/denoising_datasets CUrban100)",
    ),
    TestSetSpec(
        "Manga109",
        109,
        "109 manga volumes, one image each, as the SR literature uses them",
        "Matsui et al., Multimedia Tools and Applications 2017",
        "its terms allow academic use only and forbid redistribution, so it is not downloaded "
        "here: request it from http://www.manga109.org/ and put the 109 images in the "
        "folder named above",
        has_manifest=False,
    ),
    TestSetSpec(
        "DIV2K",
        100,
        "the DIV2K validation HR images 0801.png..0900.png (2K resolution), "
        "the hybrid-distortion test set of the DIL paper's Table 3",
        "Agustsson & Timofte, NTIRE 2017 (CVPR Workshops)",
        "it is not downloaded here and no checksums are recorded for it (only its count of 100 is "
        "checked): get DIV2K_valid_HR.zip from https://data.vision.ee.ethz.ch/cvl/DIV2K/ and put "
        "its 100 images 0801.png to 0900.png in the folder named above",
        has_manifest=False,
        aliases=("DIV2K_valid_HR", "DIV2K-val"),
    ),
    # ---- real (paired) sets of Tables 4, 5 and 7: no checksums recorded (not downloadable here), see docs/data.md
    TestSetSpec(
        "SIDD",
        1280,
        "SIDD sRGB validation: 1280 noisy/clean 256x256 blocks (40 images x 32 blocks) of smartphone photographs",
        "Abdelhamed, Lin, Brown, CVPR 2018",
        "download the sRGB validation blocks (ValidationNoisyBlocksSrgb.mat and ValidationGtBlocksSrgb.mat) "
        "from the SIDD benchmark page https://www.eecs.yorku.ca/~kamel/sidd/benchmark.php and put both "
        "files in the folder named above",
        has_manifest=False,
        paired="sidd_blocks",
        aliases=("SIDD_val", "SIDD-validation"),
    ),
    TestSetSpec(
        "DND",
        1000,
        "Darmstadt Noise Dataset sRGB: 50 noisy photographs, 20 crops of 512x512 each; "
        "no public ground truth (scored by its online benchmark)",
        "Plotz & Roth, CVPR 2017",
        "register and download dnd_2017.zip from https://noise.visinf.tu-darmstadt.de/downloads/ and put "
        "its info.mat and images_srgb/0001.mat .. 0050.mat in the folder named above (its MATLAB v7.3 "
        "files need h5py: pip install h5py)",
        has_manifest=False,
        paired="dnd",
        aliases=("dnd_2017", "DND_sRGB"),
    ),
    TestSetSpec(
        "RealSRV3",
        100,
        "RealSR (ICCV 2019) version 3, x4 test pairs of Canon 5D3 and Nikon D810 "
        "photographs: Canon/Test/4/Canon_NNN_HR.png with Canon_NNN_LR4.png, likewise Nikon",
        "Cai, Zeng, Huang, Cao, Zhang, ICCV 2019",
        "download RealSR Version 3 from the links of https://github.com/csjcai/RealSR and put its "
        "Canon/Test/4/ and Nikon/Test/4/ folders (files <Camera>_NNN_HR.png and <Camera>_NNN_LR4.png) "
        "under the folder named above",
        has_manifest=False,
        paired="realsr_v3",
        aliases=("RealSR", "RealSR_V3", "RealSR-V3"),
    ),
    TestSetSpec(
        "DRealSR",
        93,
        "DRealSR x4 test pairs (five DSLR cameras): test_LR/<name>_x4.png with test_HR/<name>_x1.png",
        "Wei et al., ECCV 2020 (Component Divide-and-Conquer)",
        "download DRealSR from the links of https://github.com/xiezw5/Component-Divide-and-Conquer-for-"
        "Real-World-Image-Super-Resolution and put the x4 test folders test_LR/ and test_HR/ (from "
        "Test_x4/) in the folder named above",
        has_manifest=False,
        paired="drealsr",
        aliases=("DRealSR_x4",),
    ),
    TestSetSpec(
        "Rain100L",
        100,
        "Rain100L test pairs (light synthetic rain)",
        "Yang et al., CVPR 2017 (JORDER)",
        "download Rain100L (e.g. the deraining test sets linked from https://github.com/swz30/MPRNet, "
        "or JORDER's release) and put its pairs as input/ + target/ (same file names), or rainy/ + "
        "norain/, or rain-NNN.png + norain-NNN.png, in the folder named above",
        has_manifest=False,
        paired="derain",
    ),
    TestSetSpec(
        "Rain12",
        12,
        "Rain12 test pairs",
        "Li, Tan, Guo, Lu, Brown, CVPR 2016",
        "download Rain12 (linked from https://yu-li.github.io/ 'Rain streak removal using layer priors', "
        "or PReNet's datasets/test/Rain12) and put its pairs as input/ + target/ (same file names), or "
        "rainy/ + norain/, in the folder named above",
        has_manifest=False,
        paired="derain",
    ),
    TestSetSpec(
        "Rain800",
        100,
        "Rain800 test pairs (the 100 synthetic test images, MPRNet's 'Test100')",
        "Zhang, Sindagi, Patel, IEEE TCSVT 2019 (ID-CGAN)",
        "download Rain800's test_syn from https://github.com/hezhangsprinter/ID-CGAN (or MPRNet's "
        "Test100) and put its pairs as input/ + target/ (same file names) in the folder named above "
        "(ID-CGAN's side-by-side images are split into the two halves first)",
        has_manifest=False,
        paired="derain",
        aliases=("Test100", "Rain800_test"),
    ),
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
