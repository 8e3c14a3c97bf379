"""Tables 2, 3 and 6 (benchmarks/reproduce_table{2,3,6}.py): smoke runs of each script, the
degraded test inputs identical for every method and seed, the paper's numbers (shape, keys and
every value against the paper's text), and the TableSpec fields these tables added."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
import torch

from scripts import run_table_script, write_train_images  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path("/work/shared")

from dil_optim.augment import HybridDistortion  # noqa: E402
from dil_optim.models import build_model  # noqa: E402
from dil_optim.training.evaluation import DEGRADATIONS, HYBRID_CODES, Evaluator, hybrid_level  # noqa: E402
from dil_optim.training.reproduce import announce, arguments, runner  # noqa: E402
from dil_optim.training.reproduce.paper_numbers import (  # noqa: E402
    TABLE1,
    TABLE2,
    TABLE2_DATASETS,
    TABLE2_SIGMAS,
    TABLE3,
    TABLE3_DATASETS,
    TABLE3_LEVELS,
    TABLE6,
    TABLE6_DATASETS,
    TABLE6_METHODS,
)
from dil_optim.training.reproduce.spec import DEFAULT_METHODS, PROFILES  # noqa: E402
from dil_optim.training.reproduce.tables import (  # noqa: E402
    TABLE1_SPEC,
    TABLE2_SPEC,
    TABLE3_SPEC,
    TABLE6_SPEC,
    TABLES,
)

MILD, MODERATE, SEVERE = 911.0, 1217.0, 1820.0


@pytest.fixture(scope="module")
def train_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_train_images(tmp_path_factory.mktemp("train"), count=2, height=40, width=36, seed=0)




def _argv(train_root: Path, out: Path, budget: int, *extra: str) -> list[str]:
    """A few steps, one tiny image, one worker and thread."""
    return ["--train-root", str(train_root), "--data-root", str(out / "no-data"), "--out", str(out),
            "--budget-ge", str(budget), "--patch-size", "16", "--eval-images", "1", "--eval-crop", "32",
            "--evals", "1", "--workers", "1", "--threads", "1", "--device", "cpu", *extra]


# ------------------------------------------------------------------------------------------ smoke runs
def test_smoke_table2_deblurring(train_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="dil_optim.training.reproduce"):
        run_table_script("table2", _argv(train_root, tmp_path, 8), monkeypatch)
    res = json.loads((tmp_path / "results.json").read_text())
    assert res["methods"] == ["ERM", "DIL_sf", "DIL_pf", "DIL_ss", "DIL_ps"]  # ERM and all four variants
    assert res["levels"] == [4.0, 4.2, 4.4, 4.6, 4.8, 5.0] and res["channel"] == "rgb"
    assert res["absent_test_sets"] == ["Set5", "Set14", "BSD100", "Urban100", "Manga109"]
    assert {(r["sigma"], r["seen"]) for r in res["results"]} == {(4.0, True)} | {
        (s, False) for s in (4.2, 4.4, 4.6, 4.8, 5.0)}
    assert len(res["noisy_input"]) == 6  # the degraded input's row at each level
    table = (tmp_path / "table2.md").read_text()
    assert "| Dataset | sigma | Degraded input | ERM (ours) | ERM (paper) | DIL_sf (ours) | DIL (paper) |" in table
    assert "| builtin | 4 (seen) |" in table and "| builtin | 5 (unseen) |" in table
    assert "beside our DIL_sf" in table
    assert (tmp_path / "fig_deblur.png").stat().st_size > 10_000
    # an absent set is named with where to get it
    details = (tmp_path / "log.txt").read_text()  # one line on the console, each set's details in log.txt
    assert "Manga109: its terms allow academic use only" in details
    assert "python -m dil_optim.data.downloader Set5" in caplog.text


def test_smoke_table3_hybrid_on_y(train_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="dil_optim.training.reproduce"):
        run_table_script("table3", _argv(train_root, tmp_path, 6, "--seed", "0", "1"), monkeypatch)
    res = json.loads((tmp_path / "results.json").read_text())
    assert res["methods"] == ["ERM", "DIL_sf"] and res["seeds"] == [0, 1] and res["channel"] == "y"
    assert res["levels"] == [MILD, MODERATE, SEVERE] and res["train_levels"] == [18, 19, 20]
    assert res["seen_levels"] == [18, 19, 20, SEVERE]
    assert {r["level"]: r["seen"] for r in res["results"]} == {MILD: False, MODERATE: False, SEVERE: True}
    assert {r["method"]: r["ge_per_step"] for r in res["runs"]} == {"ERM": 1, "DIL_sf": 3}  # 3 confounders
    assert set(res["summary_unseen"]["DIL_sf"]["per_seed"]) == {"0", "1"}
    table = (tmp_path / "table3.md").read_text()
    assert "| builtin | mild (unseen) |" in table and "| builtin | severe (seen) |" in table
    assert "on the Y channel (BT.601)" in table and "| DIL (paper) |" in table
    assert "DIV2K: it is not downloaded here" in (tmp_path / "log.txt").read_text()
    # Y-channel scores: the degraded input's PSNR on Y differs from its PSNR on RGB
    sets = [("builtin", [(f"x{i}", torch.rand(3, 24, 24)) for i in range(1)], {})]
    y = Evaluator(sets, "hybrid", (MILD,), "cpu", "y")(None)[0]["psnr"]
    rgb = Evaluator(sets, "hybrid", (MILD,), "cpu", "rgb")(None)[0]["psnr"]
    assert y != rgb


def test_smoke_table6_two_backbones_in_one_run(train_root: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    run_table_script("table6", _argv(train_root, tmp_path, 8), monkeypatch)
    res = json.loads((tmp_path / "results.json").read_text())
    assert res["methods"] == ["RRDB/ERM", "RRDB/DIL_sf", "SwinIR/ERM", "SwinIR/DIL_sf"]
    assert {r["method"]: (r["backbone"], r["config"]["profile"]["model"]) for r in res["runs"]} == {
        "RRDB/ERM": ("RRDB", "rrdb_small"), "RRDB/DIL_sf": ("RRDB", "rrdb_small"),
        "SwinIR/ERM": ("SwinIR", "swinir_small"), "SwinIR/DIL_sf": ("SwinIR", "swinir_small")}
    # distinct folders for the same method and seed on the two backbones
    assert (tmp_path / "seed0" / "RRDB" / "ERM" / "record.json").is_file()
    assert (tmp_path / "seed0" / "SwinIR" / "ERM" / "record.json").is_file()
    # each gain is over the same backbone's ERM
    s = res["summary_unseen"]
    assert s["SwinIR/DIL_sf"]["gain"] == pytest.approx(s["SwinIR/DIL_sf"]["mean"] - s["SwinIR/ERM"]["mean"])
    assert s["RRDB/DIL_sf"]["gain"] == pytest.approx(s["RRDB/DIL_sf"]["mean"] - s["RRDB/ERM"]["mean"])
    table = (tmp_path / "table6.md").read_text()
    assert "| RRDB/DIL_sf (ours) | RRDB/DIL (paper) | SwinIR/ERM (ours) |" in table
    assert "RRDB: `rrdb_small`" in table and "SwinIR: `swinir_small`" in table
    assert (tmp_path / "fig_backbones.png").is_file()


def test_table6_one_backbone_and_model_refused(train_root: Path, tmp_path: Path) -> None:
    args = arguments.parse_args(TABLE6_SPEC, ["--backbones", "SwinIR"])
    assert args.backbones == ["SwinIR"]
    with pytest.raises(SystemExit):
        arguments.parse_args(TABLE6_SPEC, ["--model", "dncnn"])
    with pytest.raises(SystemExit):
        arguments.parse_args(TABLE6_SPEC, ["--backbones", "ResNet"])
    assert not hasattr(arguments.parse_args(TABLE1_SPEC, []), "backbones")


def test_table6_paper_profile_builds_the_papers_backbones() -> None:
    p = PROFILES["paper"]
    job = runner.Job("erm", 0, p, TABLE6_SPEC, (30.0,), (5.0, 10.0, 15.0, 20.0), None, None, "cpu", "/tmp", False)
    jobs = runner.expand_backbones([job], list(TABLE6_SPEC.backbones))
    assert [(j.label, j.profile.model) for j in jobs] == [("RRDB/ERM", "rrdb"), ("SwinIR/ERM", "swinir")]
    assert jobs[0].folder != jobs[1].folder
    assert jobs[1].profile.model_overrides == ()  # the profile's overrides belong to its own model
    for j in jobs:  # every override is an argument of the model it goes to
        build_model(j.profile.model, **dict(j.profile.model_overrides))


# ------------------------------------------------------------------------- identical degraded inputs
@pytest.mark.parametrize("kind,levels", [("awgn", (20.0, 30.0)), ("blur", (4.0, 5.0)),
                                         ("hybrid", (MILD, MODERATE, SEVERE))])
def test_degraded_test_inputs_identical_for_every_method_and_seed(kind: str, levels: tuple[float, ...]) -> None:
    g = torch.Generator().manual_seed(0)
    sets = [("SetA", [(f"img{i}.png", torch.rand(3, 40, 40, generator=g)) for i in range(2)], {}),
            ("SetB", [("img0.png", torch.rand(3, 40, 40, generator=g))], {})]
    a = Evaluator(sets, kind, levels, "cpu")  # one job's evaluator ...
    b = Evaluator(sets, kind, tuple(reversed(levels)), "cpu")  # ... another's, scoring in another order
    torch.manual_seed(123)  # the global RNG (a seed's training) plays no part
    first = {(d, f, v): a.degraded(d, f, x, v) for d, imgs, _ in sets for f, x in imgs for v in levels}
    torch.manual_seed(456)
    for d, imgs, _ in reversed(sets):
        for f, x in imgs:
            for v in reversed(levels):
                assert torch.equal(b.degraded(d, f, x, v), first[(d, f, v)])
    # distinct per image and level (noise and hybrid draws; blur differs by level)
    assert not torch.equal(first[("SetA", "img0.png", levels[0])], first[("SetA", "img0.png", levels[-1])])
    # an identity model scores exactly the degraded inputs, in every evaluator
    ident = torch.nn.Identity()
    ra = {(r["dataset"], r["level"]): r["psnr_per_image"] for r in a(ident)}
    rb = {(r["dataset"], r["level"]): r["psnr_per_image"] for r in b(None)}
    assert ra == rb


@pytest.mark.parametrize("spec,levels", [(TABLE2_SPEC, ["--sigmas", "4.0", "5.0"]),
                                         (TABLE3_SPEC, ["--levels", "mild", "severe"])])
def test_every_job_of_a_run_scores_the_same_degraded_inputs(spec, levels, train_root: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Two methods x two seeds: every (set, image, level) input that any job's evaluator scores is
    the same tensor (recorded from inside the jobs)."""
    seen: dict[tuple[str, str, float], list[torch.Tensor]] = {}
    real = Evaluator._noisy

    def recording(self, dataset, file, clean, level):
        out = real(self, dataset, file, clean, level)
        seen.setdefault((dataset, file, level), []).append(out.clone())
        return out

    monkeypatch.setattr(Evaluator, "_noisy", recording)
    runner.main(spec, _argv(train_root, tmp_path, 8, "--methods", "erm", "sf", "--seed", "0", "1", "--evals", "2",
                            *levels))
    assert len(seen) == 2  # one image, two levels
    for key, tensors in seen.items():
        assert len(tensors) >= 2 * 2 * 2  # methods x seeds x evaluations (+ the degraded-input row)
        assert all(torch.equal(t, tensors[0]) for t in tensors), key


def test_hybrid_level_codes() -> None:
    assert HYBRID_CODES == {"mild": 911, "moderate": 1217, "severe": 1820}
    assert hybrid_level(1820).level_sum == (18, 20) and hybrid_level(MILD).level_sum == (9, 11)
    assert hybrid_level(19).level_sum == (19, 19)
    assert isinstance(DEGRADATIONS["hybrid"](MODERATE), HybridDistortion)
    with pytest.raises(ValueError):
        hybrid_level(18.5)
    args = arguments.parse_args(TABLE3_SPEC, ["--levels", "Mild", "severe", "1217"])
    assert args.levels == [MILD, SEVERE, MODERATE]
    assert arguments.parse_args(TABLE3_SPEC, []).train_levels == [18.0, 19.0, 20.0]


# ------------------------------------------------------------------------------------ spec fields
def test_table1_keeps_its_defaults() -> None:
    s = TABLE1_SPEC
    assert (s.channel, s.methods, s.seen_levels, s.backbones, s.notes) == ("rgb", DEFAULT_METHODS, (), (), ())
    assert s.profile(PROFILES["quick"]) == PROFILES["quick"] and s.paper_label("DIL_sf") == "DIL_sf"
    assert s.level_label(30.0) == "30" and s.parse_level("30") == 30.0
    assert arguments.parse_args(s, []).methods == list(DEFAULT_METHODS)


def test_tables_are_listed_with_their_settings() -> None:
    assert list(TABLES) == ["table1", "table2", "table3", "table4a", "table4b", "table5", "table6", "table7"]
    assert TABLE2_SPEC.train_levels == (1.0, 2.0, 3.0, 4.0) and TABLE2_SPEC.kind == "blur"
    assert set(TABLE2_SPEC.eval_levels) == {4.0, *TABLE2_SIGMAS}
    assert TABLE2_SPEC.datasets == TABLE2_DATASETS and TABLE3_SPEC.datasets == TABLE3_DATASETS
    assert TABLE6_SPEC.datasets == TABLE6_DATASETS and 30 in TABLE6_SPEC.eval_levels
    assert TABLE3_SPEC.is_seen(SEVERE, (18.0, 19.0, 20.0)) and not TABLE3_SPEC.is_seen(MILD, (18.0, 19.0, 20.0))
    assert TABLE3_SPEC.level_label(MODERATE) == "moderate"
    assert TABLE6_SPEC.paper_label("SwinIR/DIL_sf") == "SwinIR/DIL" and TABLE2_SPEC.paper_label("ERM") == "ERM"
    for spec in (TABLE2_SPEC, TABLE3_SPEC, TABLE6_SPEC):  # every paper cell has one of our methods beside it
        ours = {spec.paper_label(b + m) for b in ([f"{x.label}/" for x in spec.backbones] or [""])
                for m in ("ERM", "DIL_sf")}
        assert {m for row in spec.paper.values() for m in row} <= ours
        quick = spec.profile(PROFILES["quick"])
        assert quick.name == "quick" and quick.budget_ge >= 500
    assert arguments.resolve_profile(arguments.parse_args(TABLE6_SPEC, ["--budget-ge", "77"]), torch.device("cpu"), 4,
                                  TABLE6_SPEC).budget_ge == 77  # the command line still wins


def test_absent_sets_are_named_in_one_line_with_where_to_get_them_in_the_log(
        caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    with caplog.at_level(logging.INFO, logger="dil_optim.training.reproduce"):
        announce.announce_sets([("builtin", [], {"files": 3})], ["CBSD68", "DIV2K", "Nope"],
                             ("CBSD68", "DIV2K", "Nope"), log)
    (line,) = [r.getMessage() for r in caplog.records]
    assert "absent: CBSD68, DIV2K, Nope" in line and "the built-in photographs stand in" in line
    assert "python -m dil_optim.data.downloader CBSD68 --data-root DIR" in line and str(log) in line
    details = log.read_text()
    assert "https://data.vision.ee.ethz.ch/cvl/DIV2K/" in details and "(100 images expected)" in details
    assert "Nope: not a registered test set" in details


# ------------------------------------------------------------------------------- the paper's numbers
def test_paper_tables_have_the_shape_of_table1() -> None:
    for table, datasets, levels, methods in (
            (TABLE2, TABLE2_DATASETS, TABLE2_SIGMAS, ("ERM", "DIL")),
            (TABLE3, TABLE3_DATASETS, TABLE3_LEVELS, ("ERM", "DIL")),
            (TABLE6, TABLE6_DATASETS, (30,), TABLE6_METHODS)):
        assert list(table) == [(d, v) for d in datasets for v in levels]
        for row in table.values():
            assert tuple(row) == methods
            for p, s, g in row.values():
                assert 15 < p < 35 and 0 < s < 1 and (g is None or isinstance(g, float))
    some = next(iter(TABLE1.values()))["ERM"]
    assert len(some) == 3 and some[2] is None
    assert all(row["ERM"][2] is None and row["DIL"][2] is not None for row in TABLE2.values())
    for row in TABLE2.values():  # each printed gain is the difference to ERM
        assert abs(row["DIL"][2] - (row["DIL"][0] - row["ERM"][0])) < 0.006


def _cells(body: str) -> list[tuple[float, float]]:
    return [(float(p), float(s)) for p, s in re.findall(r"(\d+\.\d+)(?:\s*\(-?[\d.]+[↑↓]\))?\s*/\s*(\d\.\d+)", body)]


@pytest.mark.skipif(not (SHARED / "paper" / "dil-cvpr2023.txt").is_file(), reason="paper text not on this machine")
def test_paper_numbers_match_the_paper_text() -> None:
    text = (SHARED / "paper" / "dil-cvpr2023.txt").read_text()
    t2 = text[text.index("Table 2. Quantitative"):text.index("Figure 4. Visual")]
    gains = [float(g) for g in re.findall(r"\((-?[\d.]+)[↑↓]\)", t2)]
    ours2 = [(p, s) for d in TABLE2_DATASETS for m in ("ERM", "DIL") for v in TABLE2_SIGMAS
             for p, s, _ in [TABLE2[(d, v)][m]]]
    assert _cells(t2) == ours2 and len(ours2) == 50
    assert gains == [TABLE2[(d, v)]["DIL"][2] for d in TABLE2_DATASETS for v in TABLE2_SIGMAS]
    t3 = text[text.index("Table 3. Quantitative"):text.index("The experimental results are shown in Table 1")]
    ours3 = [TABLE3[(d, lv)][m][:2] for d in TABLE3_DATASETS for m in ("ERM", "DIL") for lv in TABLE3_LEVELS]
    assert _cells(t3) == ours3 and len(ours3) == 24
    t6 = text[text.index("Table 6. Quantitative"):text.index("We show the experimental results on RealSR")]
    ours6 = [TABLE6[(d, 30)][m][:2] for m in TABLE6_METHODS for d in TABLE6_DATASETS]
    assert _cells(t6) == ours6 and len(ours6) == 12
    # Table 6's RRDB rows are Table 1's ERM and DIL_sf at sigma 30 (CBSD68's DIL_sf printed 30.28 vs 30.29)
    for d in TABLE6_DATASETS:
        if (d, 30) in TABLE1:
            assert TABLE6[(d, 30)]["RRDB/ERM"][:2] == TABLE1[(d, 30)]["ERM"][:2]
            assert abs(TABLE6[(d, 30)]["RRDB/DIL"][0] - TABLE1[(d, 30)]["DIL_sf"][0]) <= 0.011
