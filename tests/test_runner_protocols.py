"""The runner's protocols (issue "Find where DIL helps"): equal-ge / equal-steps compute, the
ERM_bf and ERM_oracle baselines, lr selection on a validation split at the seen levels, the
convergence flag, and smoke runs of the table runner and the scaling study."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

from dil_optim.training.evaluation import split_train_val
from dil_optim.training.reproduce import arguments, runner
from dil_optim.training.reproduce.convergence import eval_steps, undertrained
from dil_optim.training.reproduce.jobs import Job, build_job
from dil_optim.training.reproduce.spec import PROFILES
from dil_optim.training.reproduce.tables import TABLE1_SPEC
from scripts import write_train_images

ROOT = Path(__file__).resolve().parents[1]
TRAIN = (5.0, 10.0, 15.0, 20.0)


def _job(method: str, **kw) -> Job:
    profile = kw.pop("profile", PROFILES["quick"])
    return Job(method, 0, profile, TABLE1_SPEC, (20.0, 30.0, 50.0), TRAIN, None, None, "cpu", "/tmp/x", False, **kw)


@pytest.fixture(scope="module")
def train_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_train_images(tmp_path_factory.mktemp("train"), count=4, height=40, width=36, seed=1)


def test_equal_steps_gives_every_method_ermss_steps():
    from dataclasses import replace

    p = replace(PROFILES["quick"], compute="equal-steps", budget_ge=100)
    for m in ("erm", "sf", "pf", "ss", "ps", "erm_bf", "erm_oracle"):
        job = _job(m, profile=p)
        assert job.steps == 100
    assert _job("ps", profile=p).ge_per_step == 5 and _job("sf", profile=p).ge_per_step == 4
    q = replace(p, compute="equal-ge")
    assert _job("sf", profile=q).steps == 25 and _job("ps", profile=q).steps == 20


def test_baselines_are_erm_on_a_bias_free_net_and_on_the_unseen_levels_too():
    bf, oracle = _job("erm_bf"), _job("erm_oracle")
    assert oracle.confounder_levels == TRAIN + (30.0, 50.0) and bf.confounder_levels == TRAIN
    dil, source, _ = build_job(bf)
    assert dil.variant == "erm"
    assert not any(n.endswith("bias") for n, _ in dil.model.named_parameters())
    dil, source, _ = build_job(oracle)
    assert len(source.confounders) == 6 and source.mode == "mixed"
    plain, _, _ = build_job(_job("erm"))
    assert any(n.endswith("bias") for n, _ in plain.model.named_parameters())


def test_independent_content_gives_each_confounder_its_own_clean_batch():
    dil, source, _ = build_job(_job("sf", content="independent"))
    batches, query = source.next()
    cleans = [c for _, c in batches]
    assert query is None and len(cleans) == 4
    assert all(not torch.equal(cleans[0], c) for c in cleans[1:])
    _, shared, _ = build_job(_job("sf"))
    cleans = [c for _, c in shared.next()[0]]
    assert all(torch.equal(cleans[0], c) for c in cleans[1:])


def test_validation_split_is_fixed_disjoint_and_cropped():
    imgs = [(f"im{i}", torch.rand(3, 20, 24)) for i in range(10)]
    train, val = split_train_val(imgs, 3, 8)
    assert [n for n, _ in val] == ["im1", "im5", "im8"]
    assert len(train) == 7 and not {n for n, _ in train} & {n for n, _ in val}
    assert all(t.shape == (3, 8, 8) for _, t in val)
    assert split_train_val(imgs, 0, 8) == (imgs, [])
    with pytest.raises(ValueError, match="val_images must be in"):
        split_train_val(imgs, 10, 8)


def test_lr_is_chosen_per_method_on_seen_validation_psnr():
    recs = [{"method": "ERM", "lr": lr, "seed": s, "val_seen_psnr": v}
            for lr, v in ((1e-4, 30.0), (1e-3, 31.0)) for s in (0, 1)]
    recs += [{"method": "DIL_sf", "lr": lr, "seed": 0, "val_seen_psnr": v} for lr, v in ((1e-4, 29.5), (1e-3, 29.5))]
    chosen, grid = runner.select_lr(recs)
    assert grid["ERM"]["chosen_lr"] == 1e-3 and grid["DIL_sf"]["chosen_lr"] == 1e-4  # a tie: the smaller lr
    assert {(r["method"], r["lr"]) for r in chosen} == {("ERM", 1e-3), ("DIL_sf", 1e-4)}


def test_convergence_flag_reads_the_last_quarter_at_seen_levels():
    def entry(step: int, seen: float, unseen: float) -> dict:
        return {"step": step, "val": [{"level": 10.0, "psnr": seen}, {"level": 50.0, "psnr": unseen}]}

    hist = [entry(50, 28.0, 20.0), entry(75, 29.0, 20.0), entry(100, 29.3, 15.0)]
    flag = undertrained(hist, 100, TRAIN)
    assert flag["flag"] and flag["from_step"] == 75 and flag["rise_db"] == pytest.approx(0.3)
    hist[-1] = entry(100, 29.05, 25.0)  # the unseen level does not count
    assert not undertrained(hist, 100, TRAIN)["flag"]
    assert undertrained([], 100, TRAIN) is None
    assert 75 in eval_steps(100, 2, True) and 75 not in eval_steps(100, 2, False)


def test_runner_smoke_with_grid_baselines_and_equal_steps(train_root: Path, tmp_path: Path):
    out = tmp_path / "run"
    runner.main(TABLE1_SPEC, ["--train-root", str(train_root), "--out", str(out), "--methods", "erm", "erm_bf",
                              "erm_oracle", "sf", "--sigmas", "20", "50", "--lr-grid", "1e-4", "1e-3",
                              "--val-images", "1", "--val-crop", "16", "--compute", "equal-steps", "--budget-ge", "4",
                              "--patch-size", "8", "--batch-size", "2", "--evals", "2", "--eval-images", "1",
                              "--eval-crop", "16", "--workers", "1", "--threads", "1", "--device", "cpu"])
    res = json.loads((out / "results.json").read_text())
    assert res["compute"] == "equal-steps" and res["methods"] == ["ERM", "ERM_bf", "ERM_oracle", "DIL_sf"]
    assert len(res["grid_runs"]) == 8 and set(res["lr_selection"]) == set(res["methods"])
    assert all(r["steps"] == 4 for r in res["runs"])
    assert {r["method"]: r["ge"] for r in res["runs"]} == {"ERM": 4, "ERM_bf": 4, "ERM_oracle": 4, "DIL_sf": 16}
    assert all(r["convergence"] is not None and "rise_db" in r["convergence"] for r in res["runs"])
    assert (out / "fig1_crops.png").stat().st_size > 1000  # the Fig. 4-style crops at the highest unseen level
    table = (out / "table1.md").read_text()
    assert "Equal steps" in table and "chosen per method on the validation split" in table


def test_runner_refuses_an_lr_grid_without_a_validation_split(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit):
        arguments.parse_args(TABLE1_SPEC, ["--lr-grid", "1e-4", "1e-3"])
    assert "--val-images" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        arguments.parse_args(TABLE1_SPEC, ["--lr", "-1"])


def test_scaling_study_smoke(train_root: Path, tmp_path: Path):
    spec = importlib.util.spec_from_file_location("scaling_study", ROOT / "benchmarks" / "scaling_study.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["scaling_study"] = mod
    spec.loader.exec_module(mod)
    out = tmp_path / "scaling"
    mod.main(["--train-root", str(train_root), "--out", str(out), "--cells", "dncnn-S", "--budget-ge", "10",
              "--val-images", "1", "--val-crop", "16", "--workers", "1", "--phases", "1", "2", "--device", "cpu"])
    data = json.loads((out / "scaling.json").read_text())
    assert data["chosen_cell"] == "dncnn-S"
    methods = {r["method"] for r in data["runs"]}
    assert methods == {"ERM", "ERM_bf", "ERM_oracle", "DIL_sf", "DIL_sf-ind", "DIL_ps"}
    last = next(r for r in data["rows"] if r["ge"] == 10)
    # DIL_sf takes 4 ge a step and ends at 8 ge: its evaluations are put on the cell's grid of 5 ge
    assert set(last["methods"]) == {"ERM", "ERM_bf", "ERM_oracle", "DIL_ps", "DIL_sf", "DIL_sf-ind"}
    assert mod.main(["--out", str(out), "--cells", "dncnn-S", "--budget-ge", "10", "--val-images", "1",
                     "--val-crop", "16", "--report-only"]) is None
    assert last["failure_s50"] == pytest.approx(last["gain_s50"]["ERM_oracle"]["mean"])
    assert (out / "fig_scaling.png").stat().st_size > 1000 and "| dncnn-S |" in (out / "scaling.md").read_text()


def test_pictures_pick_the_widest_spread_and_the_median_image():
    from dil_optim.training.reproduce.pictures import pick_images

    def rec(method: str, psnrs: list[float], seed: int = 0) -> dict:
        return {"method": method, "seed": seed, "final": [{"dataset": "A", "level": 50.0, "psnr_per_image": psnrs},
                                                          {"dataset": "A", "level": 20.0, "psnr_per_image": [0, 0, 0]}]}

    recs = [rec("ERM", [20.0, 25.0, 30.0]), rec("DIL_sf", [20.5, 28.0, 30.1]), rec("ERM", [0, 0, 0], seed=1)]
    assert pick_images(recs, 50.0) == [("A", 1, "methods differ most"), ("A", 1, "median PSNR")][:1]
    recs[1]["final"][0]["psnr_per_image"] = [24.0, 25.5, 30.1]
    assert pick_images(recs, 50.0) == [("A", 0, "methods differ most"), ("A", 1, "median PSNR")]
    assert pick_images(recs, 40.0) == []
