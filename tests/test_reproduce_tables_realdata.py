"""Tables 4, 5 and 7 (benchmarks/reproduce_table{4,5,7}.py): smoke runs on the synthetic stand-ins
(no real set present) and on tiny generated folders in each real set's published layout; DND's
submission layout; the dataset confounders and Charbonnier loss of the deraining part; the
paper's numbers against the paper's text; the new level families."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
from realsets_fixtures import make_derain, make_dnd, make_drealsr, make_rain_training, make_realsr_v3, make_sidd

from dil_optim.augment import PairedFolder
from dil_optim.training.evaluation import DEGRADATIONS, REAL_LEVEL, Evaluator, load_test_sets
from dil_optim.training.losses import CharbonnierLoss, build_loss
from dil_optim.training.reproduce import jobs as jobs_mod
from dil_optim.training.reproduce.paper_numbers import TABLE4, TABLE5, TABLE5_REFERENCES, TABLE7
from dil_optim.training.reproduce.tables import TABLE4A_SPEC, TABLE4B_SPEC, TABLE5_SPEC, TABLE7_SPEC, TABLES

from scripts import run_table_script, write_train_images  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PAPER = Path("/work/shared/paper/dil-cvpr2023.txt")


@pytest.fixture(scope="module")
def train_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_train_images(tmp_path_factory.mktemp("train"), count=2, height=72, width=72, seed=0)




def _argv(train_root: Path, data_root: Path, out: Path, budget: int, patch: int, crop: int, *extra: str) -> list[str]:
    return ["--train-root", str(train_root), "--data-root", str(data_root), "--out", str(out),
            "--budget-ge", str(budget), "--patch-size", str(patch), "--batch-size", "4", "--eval-images", "2",
            "--eval-crop", str(crop), "--evals", "1", "--workers", "1", "--threads", "1", "--device", "cpu", *extra]


def _rows(out: Path) -> list[dict]:
    return json.loads((out / "results.json").read_text())["results"]


# ------------------------------------------------------------------------------------------ smoke runs
def test_smoke_table4_standins(train_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_table_script("table4", _argv(train_root, tmp_path / "no-data", tmp_path, 6, 32, 32), monkeypatch)
    for part, stand in (("table4a", "no-CFA+gains (stand-in)"), ("table4b", "storm (stand-in)")):
        out = tmp_path / part
        rows = _rows(out)
        assert {r["dataset"] for r in rows} == {"builtin"} and {r["distortion"] for r in rows} == {9.0}
        assert {r["method"] for r in rows} == {"ERM", "DIL_sf", "DIL_ps"}
        md = (out / f"{part}.md").read_text()
        assert stand in md and "SYNTHETIC STAND-INS" in md and "Absent, skipped" in md
    assert "Charbonnier loss (eps 1e-3)" in (tmp_path / "table4b" / "table4b.md").read_text()
    assert "L1 loss" in (tmp_path / "table4a" / "table4a.md").read_text()


def test_smoke_table4_real_layouts(train_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    make_sidd(data, images=1, blocks=2, size=32)
    make_dnd(data, images=1, size=16)
    make_derain(data, "Rain100L", n=2)
    make_derain(data, "Rain12", n=2, layout="rainy/norain")
    make_derain(data, "Rain800", n=2, layout="prefix")
    run_table_script("table4", _argv(train_root, data, tmp_path, 6, 32, 32, "--methods", "erm", "sf"), monkeypatch)
    a = _rows(tmp_path / "table4a")
    assert {(r["dataset"], r["distortion"]) for r in a} == {("SIDD", REAL_LEVEL), ("SIDD", 9.0)}
    md = (tmp_path / "table4a" / "table4a.md").read_text()
    assert "| DND | real | no public ground truth" in md and "online benchmark" in md
    assert "38.90/0.938" in md and "39.96/0.941 (+1.06)" in md  # the paper's SIDD numbers beside ours
    sub = tmp_path / "table4a" / "seed0" / "DIL_sf" / "dnd_submission" / "0001.mat"
    m = scipy.io.loadmat(str(sub))
    assert m["Idenoised"].shape == (1, 20) and m["Idenoised"][0, 0].shape == (16, 16, 3)
    b = _rows(tmp_path / "table4b")
    assert {r["dataset"] for r in b} == {"Rain100L", "Rain12", "Rain800"}
    real = [r for r in b if r["distortion"] == REAL_LEVEL and r["method"] == "ERM"]
    assert len(real) == 3 and all(np.isfinite(r["psnr"]) for r in real)
    assert "27.61/0.858" in (tmp_path / "table4b" / "table4b.md").read_text()


def test_smoke_table5_standins_and_real(train_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    make_realsr_v3(data, per_camera=1, size=64)
    make_drealsr(data, n=1, size=64)
    run_table_script("table5", _argv(train_root, data, tmp_path, 6, 32, 32, "--model", "rrdb_small"), monkeypatch)
    rows = _rows(tmp_path)
    assert {(r["dataset"], r["distortion"]) for r in rows} == {(d, v) for d in ("RealSRV3", "DRealSR")
                                                          for v in (REAL_LEVEL, 8.0, 9.0)}
    md = (tmp_path / "table5.md").read_text()
    assert "Real-ESRNet: RealSRV3 26.19/0.7989" in md and "BSRNet" in md and "28.12/0.807 (+0.47)" in md
    assert "bicubic+ISP x4 (stand-in)" in md
    # x4: the quick profile's model upsamples
    assert json.loads((tmp_path / "results.json").read_text())["methods"] == ["ERM", "DIL_sf", "DIL_ps"]


def test_smoke_table7_d1_d2(train_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_table_script("table7", _argv(train_root, tmp_path / "no-data", tmp_path, 4, 32, 32), monkeypatch)
    res = json.loads((tmp_path / "results.json").read_text())
    assert res["methods"] == ["D1/ERM", "D1/DIL_sf", "D2/ERM", "D2/DIL_sf"]
    cfg = {r["method"]: r["config"]["train_levels"] for r in
           (json.loads(p.read_text()) for p in tmp_path.glob("seed0/*/*/record.json"))}
    assert cfg["D1/ERM"] == [1.0, 2.0, 3.0, 4.0] and cfg["D2/DIL_sf"] == [11.0, 12.0, 13.0, 14.0]
    md = (tmp_path / "table7.md").read_text()
    assert "Real-ESRGAN D2 (stand-in)" in md and "inside D2's training distribution" in md


# ------------------------------------------------------------------------------------------ pieces
def test_rain_dataset_confounders_and_charbonnier(tmp_path: Path) -> None:
    root = make_rain_training(tmp_path / "train")
    job = jobs_mod.Job("sf", 0, TABLE4B_SPEC.profile(__import__("dil_optim.training.reproduce.spec",
                                                                fromlist=["PROFILES"]).PROFILES["quick"]),
                       TABLE4B_SPEC, (0.0, 9.0), (1.0, 2.0, 3.0), str(root), None, "cpu", str(tmp_path / "o"), False)
    folders = jobs_mod.dataset_confounders(job)
    assert folders is not None and [f.name for f in folders] == ["DID-MDN", "Rain14000", "HeavyRain"]
    assert all(isinstance(f, PairedFolder) for f in folders)
    dil, source, _ = jobs_mod.build_job(job)
    assert isinstance(dil.loss_fn, CharbonnierLoss) and source.confounders.content == "independent"
    batches, _ = source.next()
    assert len(batches) == 3 and all(d.shape == c.shape for d, c in batches)
    (root / "HeavyRain" / "input").rename(root / "HeavyRain" / "x")  # one dataset missing: the synthesis
    assert jobs_mod.dataset_confounders(job) is None


def test_charbonnier_values() -> None:
    x, y = torch.zeros(2, 3, 4, 4), torch.full((2, 3, 4, 4), 0.5)
    assert abs(float(CharbonnierLoss(1e-3)(x, y)) - (0.25 + 1e-6) ** 0.5) < 1e-7
    assert isinstance(build_loss("l1"), torch.nn.L1Loss)
    with pytest.raises(ValueError):
        build_loss("l2")


def test_level_families() -> None:
    x = torch.rand(2, 3, 32, 32)
    g = torch.Generator().manual_seed(0)
    assert DEGRADATIONS["realdenoise"](9).name == "isp_nocfa_gains" and DEGRADATIONS["realdenoise"](9).pattern is None
    assert [DEGRADATIONS["realdenoise"](c).pattern for c in (1, 2, 3, 4)] == ["RGGB", "BGGR", "GRBG", "GBRG"]
    assert DEGRADATIONS["derain"](9).name == "rain_storm"
    assert DEGRADATIONS["realsr"](8)(x, g).shape == (2, 3, 8, 8)
    assert DEGRADATIONS["realsr"](12).order == 2 and DEGRADATIONS["realsr"](3).order == 1
    for kind in ("realdenoise", "derain", "realsr"):
        with pytest.raises(ValueError, match="real"):
            DEGRADATIONS[kind](0)


def test_evaluator_real_level_uses_the_sets_inputs(tmp_path: Path) -> None:
    make_realsr_v3(tmp_path, per_camera=1, size=64)
    sets, absent = load_test_sets(("RealSRV3", "DRealSR"), str(tmp_path), None, 32)
    assert absent == ["DRealSR"] and sets[0][2]["scale"] == 4
    name, imgs, info = sets[0]
    assert imgs[0][1].shape == (3, 32, 32) and info["degraded"][imgs[0][0]].shape == (3, 8, 8)
    ev = Evaluator(sets, "realsr", (REAL_LEVEL, 8.0), "cpu", "y")
    assert torch.equal(ev.degraded(name, imgs[0][0], imgs[0][1], REAL_LEVEL)[0], info["degraded"][imgs[0][0]])
    rows = ev(None)  # the inputs themselves, bicubic up to the HR size
    assert [r["level"] for r in rows] == [REAL_LEVEL, 8.0] and all(np.isfinite(r["psnr"]) for r in rows)
    builtin = Evaluator([("builtin", imgs, {})], "realsr", (REAL_LEVEL, 8.0), "cpu", "y")
    assert [r["level"] for r in builtin(None)] == [8.0]  # no own inputs: the real level is not scored


# ------------------------------------------------------------------------------------------ paper numbers
def test_paper_numbers_against_the_text() -> None:
    text = PAPER.read_text() if PAPER.is_file() else None
    if text is None:
        pytest.skip("paper text not present")
    t4 = text[text.index("Table 4. Quantitative"):text.index("Figure 5.")]
    for (d, _), row in TABLE4.items():
        for m, (p, s, g) in row.items():
            assert f"{p:.2f}" in t4 and f"{s:.4f}" in t4, (d, m)
            if g is not None:
                assert f"({g:.2f}" in t4
    t5 = text[text.index("Table 5. Quantitative"):text.index("Table 6. Quantitative")]
    for row in TABLE5.values():
        for p, s, _ in row.values():
            assert f"{p:.2f}" in t5 and f"{s:.4f}" in t5
    for rows in TABLE5_REFERENCES.values():
        for p, s in rows.values():
            assert f"{p:.2f}/{s:.4f}" in t5
    t7 = text[text.index("Table 7. Quantitative"):text.index("Results on Real Image Denoising")]
    for row in TABLE7.values():
        for p, s, _ in row.values():
            assert f"{p:.2f}/{s:.4f}" in t7
    assert TABLE7[("RealSRV3", 0.0)]["D1/ERM"][:2] == TABLE5[("RealSRV3", 0.0)]["ERM"][:2]
    assert TABLE4[("Rain12", 0.0)]["DIL_ps"] == (33.07, 0.9266, 1.63)


def test_specs_registered() -> None:
    for name, spec in (("table4a", TABLE4A_SPEC), ("table4b", TABLE4B_SPEC), ("table5", TABLE5_SPEC),
                       ("table7", TABLE7_SPEC)):
        assert TABLES[name] is spec and spec.channel == "y" and REAL_LEVEL in spec.eval_levels
    assert TABLE4B_SPEC.loss == "charbonnier" and TABLE4A_SPEC.loss == "l1"
    assert TABLE5_SPEC.paper_label("DIL_ps") == "DIL_ps" and TABLE7_SPEC.paper_label("D2/DIL_sf") == "D2/DIL"
