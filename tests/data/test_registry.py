from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import pytest

from dil_optim.data import candidate_roots, default_cache_root, known_test_sets, manifest, lookup_test_set
from dil_optim.data.registry import resolve_set_dir

# expected image counts from the papers introducing the sets
PAPER_COUNTS = {"CBSD68": 68, "Kodak24": 24, "McMaster": 18, "Set5": 5, "Set14": 14,
                "BSD100": 100, "Urban100": 100, "Manga109": 109, "DIV2K": 100,
                # paired real sets (Tables 4, 5, 7): number of (degraded, clean) pairs
                "SIDD": 1280, "DND": 1000, "RealSRV3": 100, "DRealSR": 93, "Rain100L": 100, "Rain12": 12,
                "Rain800": 100}
NO_MANIFEST = ("Manga109", "DIV2K", "SIDD", "DND", "RealSRV3", "DRealSR", "Rain100L", "Rain12", "Rain800")  # no checksums: Manga109's terms forbid redistribution; DIV2K's unverified


def test_known_sets_and_counts() -> None:
    assert set(known_test_sets()) == set(PAPER_COUNTS)
    for name, count in PAPER_COUNTS.items():
        assert lookup_test_set(name).count == count


def test_names_are_case_insensitive_with_aliases() -> None:
    assert lookup_test_set("urban100").name == "Urban100"
    assert lookup_test_set("B100").name == "BSD100"
    assert lookup_test_set("kodak").name == "Kodak24"
    with pytest.raises(ValueError, match="known: CBSD68"):
        lookup_test_set("Set6")
    with pytest.raises(TypeError):
        lookup_test_set(5)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", [n for n in PAPER_COUNTS if n not in NO_MANIFEST])
def test_manifests_are_complete_and_well_formed(name: str) -> None:
    records = manifest(name)
    assert len(records) == PAPER_COUNTS[name]
    assert len({r.file for r in records}) == len(records)
    for r in records:
        assert re.fullmatch(r"[0-9a-f]{64}", r.sha256) and re.fullmatch(r"[0-9a-f]{64}", r.pixels_sha256)
        assert r.width >= 200 and r.height >= 200 and r.size > 0
        assert re.fullmatch(r"https://raw\.githubusercontent\.com/[\w.-]+/[\w.-]+/[0-9a-f]{40}/\S+", r.url)
        same_format = Path(r.url).suffix.lower() == Path(r.file).suffix.lower()
        # a source in another format has its own checksum; a byte-identical copy has none
        assert (r.source_sha256 == "") == same_format
        if r.source_sha256:
            assert re.fullmatch(r"[0-9a-f]{64}", r.source_sha256)


def test_manga109_has_no_manifest() -> None:
    assert manifest("Manga109") == ()
    assert "manga109.org" in lookup_test_set("Manga109").how_to_get


def test_div2k_validation_entry() -> None:
    spec = lookup_test_set("DIV2K_valid_HR")
    assert spec.name == "DIV2K" and spec.count == 100 and manifest("DIV2K") == ()
    assert "0801.png to 0900.png" in spec.how_to_get and "data.vision.ee.ethz.ch/cvl/DIV2K" in spec.how_to_get


def test_manifests_agree_with_the_shared_manifest(shared_datasets: Path) -> None:
    rows: dict[str, list[dict[str, str]]] = {}
    with open(shared_datasets / "MANIFEST.tsv", newline="") as f:
        for r in csv.DictReader(f, delimiter="\t"):
            rows.setdefault(r["set"], []).append(r)
    for name in PAPER_COUNTS:
        if name in NO_MANIFEST:
            assert name not in rows
            continue
        ours = {r.file: r for r in manifest(name)}
        theirs = rows[name]
        for t in theirs:
            o = ours[t["file"]]
            assert (o.width, o.height, o.sha256) == (int(t["width"]), int(t["height"]), t["sha256"])
            assert o.url.endswith("/" + t["source_path"]) and f"/{t['source_repo']}/" in o.url
        if name == "Urban100":  # the shared copy is the first 75 of 100
            assert sorted(t["file"] for t in theirs) == [f"img_{i:03d}.png" for i in range(1, 76)]
        else:
            assert len(theirs) == len(ours)


def test_candidate_roots_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_root() == tmp_path / "xdg" / "dil_optim" / "datasets"
    assert candidate_roots() == [default_cache_root()]
    monkeypatch.setenv("DIL_OPTIM_DATA", str(tmp_path / "env"))
    assert candidate_roots(tmp_path / "arg") == [tmp_path / "arg", tmp_path / "env", default_cache_root()]
    assert candidate_roots(str(tmp_path / "env")) == [tmp_path / "env", default_cache_root()]
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_root() == tmp_path / "home" / ".cache" / "dil_optim" / "datasets"


def test_resolve_set_dir_takes_the_first_root_holding_the_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    arg, env, cache = tmp_path / "arg", tmp_path / "env", default_cache_root()
    monkeypatch.setenv("DIL_OPTIM_DATA", str(env))
    assert resolve_set_dir("Set5", arg) is None
    os.makedirs(cache / "Set5")
    assert resolve_set_dir("Set5", arg) == cache / "Set5"
    os.makedirs(env / "Set5")
    assert resolve_set_dir("set5", arg) == env / "Set5"
    os.makedirs(arg / "Set5")
    assert resolve_set_dir("Set5", arg) == arg / "Set5"
    assert resolve_set_dir("Set14", arg) is None
