"""benchmarks/reproduce_table1.py and its runner: end to end on tiny settings, exact resume,
equal compute, fixed test noise, the paper's numbers, and the paper profile starting on CPU."""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dil_optim.training.reproduce import jobs as jobs_mod, report, runner  # noqa: E402
from dil_optim.training.evaluation import Evaluator, centre_crop, load_test_sets  # noqa: E402
from dil_optim.training.reproduce.paper_numbers import TABLE1  # noqa: E402
from dil_optim.training.reproduce.tables import TABLE1_SPEC  # noqa: E402
from dil_optim.augment import paper_confounders  # noqa: E402
from dil_optim.metrics import psnr  # noqa: E402
from scripts import write_train_images  # noqa: E402

SHARED = Path("/work/shared")
METHOD_NAMES = ["ERM", "DIL_sf", "DIL_pf", "DIL_ss", "DIL_ps"]


@pytest.fixture(scope="module")
def train_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_train_images(tmp_path_factory.mktemp("train"), count=2, height=40, width=36, seed=0)


def _argv(train_root: Path, out: Path, *extra: str) -> list[str]:
    return ["--train-root", str(train_root), "--data-root", str(out / "no-data"), "--out", str(out),
            "--budget-ge", "16", "--patch-size", "16", "--eval-images", "2", "--eval-crop", "32",
            "--evals", "2", "--workers", "1", "--threads", "1", "--device", "cpu", *extra]


@pytest.fixture(scope="module")
def smoke(train_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("smoke")
    runner.main(TABLE1_SPEC, _argv(train_root, out, "--checkpoint-every-ge", "8"))
    return out


def test_smoke_all_five_methods_end_to_end(smoke: Path):
    res = json.loads((smoke / "results.json").read_text())
    assert res["methods"] == METHOD_NAMES and res["seeds"] == [0]
    assert res["absent_test_sets"] == ["CBSD68", "Kodak24", "McMaster", "Urban100", "Manga109"]
    assert [s["name"] for s in res["test_sets"]] == ["builtin"]  # the fallback on an empty data root
    recs = res["results"]
    assert len(recs) == 5 * 1 * 5  # methods x datasets x sigmas
    for r in recs:
        assert {"method", "dataset", "sigma", "psnr", "ssim", "seed"} <= set(r)
        assert math.isfinite(r["psnr"]) and 0 < r["ssim"] <= 1 and len(r["psnr_per_image"]) == 2
        assert r["seen"] == (r["sigma"] in (15, 20))
    assert {(r["method"], r["sigma"]) for r in recs} == {(m, s) for m in METHOD_NAMES for s in (15, 20, 30, 40, 50)}
    # equal compute: every method used the 16 gradient evaluations
    assert {r["method"]: (r["steps"], r["ge"]) for r in res["runs"]} == {
        "ERM": (16, 16), "DIL_sf": (4, 16), "DIL_pf": (2, 16), "DIL_ss": (2, 16), "DIL_ps": (3, 15)}
    assert all(r["wall_time_s"] > 0 for r in res["runs"])
    assert res["versions"]["torch"] == torch.__version__
    table = (smoke / "table1.md").read_text()
    assert "| builtin | 50 (unseen) |" in table and "DIL_sf (paper)" in table
    assert "Absent, skipped: CBSD68, Kodak24, McMaster, Urban100, Manga109" in table
    assert (smoke / "fig1.png").stat().st_size > 10_000
    assert "eval DIL_ps seed 0 step 3/3 (15 ge)" in (smoke / "log.txt").read_text()
    # the noisy-input reference is the PSNR of the fixed noisy images themselves
    noisy = {(r["dataset"], r["sigma"]): r["psnr"] for r in res["noisy_input"]}
    assert 24 < noisy[("builtin", 15)] < 26 and noisy[("builtin", 50)] < noisy[("builtin", 30)]


def test_resume_after_a_kill_gives_the_same_numbers(train_root: Path, smoke: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch):
    out = tmp_path / "run"
    real_train = jobs_mod.train

    def killing_train(dil, source, **kw):
        cb = kw["callback"]

        def callback(step, stats):
            cb(step, stats)
            if dil.variant == "sf" and step == 3:  # checkpoint at step 2 (8 ge), killed in step 3
                raise KeyboardInterrupt

        return real_train(dil, source, **{**kw, "callback": callback})

    monkeypatch.setattr(jobs_mod, "train", killing_train)
    with pytest.raises(KeyboardInterrupt):
        runner.main(TABLE1_SPEC, _argv(train_root, out, "--checkpoint-every-ge", "8"))
    monkeypatch.undo()
    assert not (out / "results.json").exists()
    assert (out / "seed0" / "DIL_ss" / "record.json").is_file()  # finished before the kill (longest first)
    assert not (out / "seed0" / "DIL_sf" / "record.json").exists()

    runner.main(TABLE1_SPEC, _argv(train_root, out, "--checkpoint-every-ge", "8", "--resume"))
    ref = json.loads((smoke / "results.json").read_text())
    got = json.loads((out / "results.json").read_text())
    key = lambda r: (r["method"], r["dataset"], r["sigma"])  # noqa: E731
    assert sorted((key(r), r["psnr"], r["ssim"]) for r in got["results"]) == \
        sorted((key(r), r["psnr"], r["ssim"]) for r in ref["results"])
    runs = {r["method"]: r for r in got["runs"]}
    assert runs["DIL_sf"]["resumed_from"] == 2 and runs["ERM"]["resumed_from"] is None
    # the evaluation made along training before the kill survived in the checkpoint
    hist = [h for h in got["history"] if h["method"] == "DIL_sf"]
    assert sorted({h["step"] for h in hist}) == [2, 4]


def test_resume_refuses_a_changed_configuration(train_root: Path, tmp_path: Path):
    out = tmp_path / "run"
    runner.main(TABLE1_SPEC, _argv(train_root, out, "--methods", "erm"))
    first = json.loads((out / "results.json").read_text())["runs"][0]
    runner.main(TABLE1_SPEC, _argv(train_root, out, "--methods", "erm", "--resume"))
    again = json.loads((out / "results.json").read_text())["runs"][0]
    assert again["wall_time_s"] == first["wall_time_s"]  # reused, not retrained
    with pytest.raises(ValueError, match=r"another configuration \(lr: saved 0.0001, now 0.001\)"):
        runner.main(TABLE1_SPEC, _argv(train_root, out, "--methods", "erm", "--resume", "--lr", "1e-3"))
    (out / "seed0" / "ERM" / "record.json").unlink()  # killed before the record: the checkpoint is checked
    with pytest.raises(ValueError, match="checkpoint.pt was written with another configuration"):
        runner.main(TABLE1_SPEC, _argv(train_root, out, "--methods", "erm", "--resume", "--lr", "1e-3"))
    runner.main(TABLE1_SPEC, _argv(train_root, out, "--methods", "erm", "--lr", "1e-3"))  # no --resume: anew
    changed = json.loads((out / "results.json").read_text())["runs"][0]
    assert changed["config"]["lr"] == 1e-3 and changed["resumed_from"] is None


def test_equal_compute_and_lr_schedule_per_method():
    p = runner.PROFILES["quick"]
    for m in runner.METHODS:
        job = runner.Job(m, 0, p, TABLE1_SPEC, (30.0,), (5.0, 10.0, 15.0, 20.0), None, None, "cpu", "/tmp", False)
        assert p.budget_ge - job.ge_per_step < job.steps * job.ge_per_step <= p.budget_ge
    paper = runner.PROFILES["paper"]
    job = runner.Job("erm", 0, paper, TABLE1_SPEC, (30.0,), (5.0, 10.0, 15.0, 20.0), None, None, "cpu", "/tmp", False)
    assert job.steps == 400_000  # the paper's 400K iterations of batch 8 for ERM
    assert (paper.model, paper.patch_size, paper.batch_size, paper.lr) == ("rrdb", 64, 8, 1e-4)
    assert [round(f * job.steps) for f in paper.milestones] == [200_000, 300_000]


def test_table_settings_match_the_papers_denoising_confounders():
    train, unseen = paper_confounders("denoise")
    assert [d.sigma.low for d in train.degradations] == list(TABLE1_SPEC.train_levels)
    assert sorted(d.sigma.low for d in unseen.values()) == [30, 40, 50]
    assert set(TABLE1_SPEC.eval_levels) >= {30, 40, 50}


def test_evaluator_uses_fixed_noise_and_scores_against_the_clean_image():
    img = torch.rand(3, 20, 24, generator=torch.Generator().manual_seed(0))
    sets = [("set", [("a.png", img)], {})]
    ev = Evaluator(sets, "awgn", (25.0,), "cpu")
    first, second = ev(None), ev(None)
    assert first[0]["psnr"] == second[0]["psnr"]
    noisy = ev._noisy("set", "a.png", img, 25.0)
    assert first[0]["psnr"] == pytest.approx(float(psnr(noisy, img[None])[0]))
    assert 19 < first[0]["psnr"] < 22  # AWGN sigma 25 on a uniform image, clipped
    oracle = Evaluator(sets, "awgn", (25.0,), "cpu")(torch.nn.Identity())
    assert oracle[0]["psnr"] == first[0]["psnr"]  # identity net == noisy input
    other = Evaluator([("set", [("b.png", img)], {})], "awgn", (25.0,), "cpu")(None)
    assert other[0]["psnr"] != first[0]["psnr"]  # the noise is seeded per image name


def test_centre_crop():
    x = torch.arange(2 * 5 * 7).reshape(2, 5, 7)
    assert torch.equal(centre_crop(x, 3), x[:, 1:4, 2:5])
    assert torch.equal(centre_crop(x, 9), x) and centre_crop(x, None) is x


def test_table_puts_the_papers_numbers_beside_ours(tmp_path: Path):
    p = runner.PROFILES["quick"]
    jobs = [runner.Job(m, 0, p, TABLE1_SPEC, (20.0, 30.0), (5.0, 10.0, 15.0, 20.0), None, None, "cpu", "x", False)
            for m in ("erm", "sf")]
    records = [{"method": n, "seed": s, "steps": 10, "ge_per_step": 1, "ge": 10, "wall_time_s": 1.0, "params": 1,
                "lr": 1e-4, "history": [], "final": []} for n in ("ERM", "DIL_sf") for s in (0, 1)]
    results = [{"method": n, "dataset": "CBSD68", "sigma": v, "psnr": base + (0.2 if n == "DIL_sf" else 0) + 0.1 * s,
                "ssim": 0.5, "seed": s} for n in ("ERM", "DIL_sf") for s in (0, 1) for v, base in ((20.0, 30), (30.0, 25))]
    sets = [("CBSD68", [], {"files": 8, "expected": 68})]
    report.write_table(tmp_path / "t.md", TABLE1_SPEC, p, jobs, records, results, [], sets, ["Kodak24"], 60.0,
                       torch.device("cpu"), [])
    text = (tmp_path / "t.md").read_text()
    row = next(line for line in text.splitlines() if line.startswith("| CBSD68 | 30 (unseen)"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[3:] == ["25.05/0.500 ±0.05", "24.90/0.581", "25.25/0.500 (+0.20) ±0.05", "30.29/0.866 (+5.39)"]
    assert "| DIL_sf | 25.20 | 25.30 | 25.25 | +0.20 | +0.20, +0.20 |" in text


@pytest.mark.skipif(not (SHARED / "paper" / "dil-cvpr2023.txt").is_file(), reason="paper text not on this machine")
def test_paper_numbers_match_the_paper_text():
    text = (SHARED / "paper" / "dil-cvpr2023.txt").read_text()
    body = text[text.index("Table 1."):text.index("is that it requires")]
    cells = re.findall(r"(\d+\.\d+)\s*(?:\^\((-?[\d.]+)↑\))?\s*/\s*(\d\.\d+)", body)
    ours = [(p, s, g) for key in TABLE1 for p, s, g in TABLE1[key].values()]
    assert len(cells) == len(ours) == 75
    for (p, g, s), (pp, ss, gg) in zip(cells, ours):
        assert (float(p), float(s)) == (pp, ss) and (float(g) if g else None) == gg
    for row in TABLE1.values():  # each printed gain is the difference to ERM
        for p, _, g in row.values():
            assert g is None or abs(g - (p - row["ERM"][0])) < 0.006


@pytest.mark.skipif(not (SHARED / "datasets" / "CBSD68").is_dir(), reason="shared datasets not on this machine")
def test_test_sets_on_this_machine_absent_ones_skipped():
    sets, absent = load_test_sets(TABLE1_SPEC.datasets, str(SHARED / "datasets"), 1, 32)
    assert [n for n, _, _ in sets] == ["CBSD68", "McMaster", "Urban100"]
    assert absent == ["Kodak24", "Manga109"]
    info = {n: i for n, _, i in sets}
    assert info["Urban100"]["subset"] and info["CBSD68"]["expected"] == 68
    assert all(img.shape == (3, 32, 32) for _, imgs, _ in sets for _, img in imgs)


def test_paper_profile_starts_on_cpu(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """The paper's full configuration (RRDB 64 features, 23 blocks, growth 32; batch 8; Adam 1e-4):
    one warm-up and one timed ERM step on 8x8 patches."""
    runner.main(TABLE1_SPEC, ["--profile", "paper", "--throughput-only", "--max-steps", "1", "--patch-size", "8",
                              "--methods", "erm", "--device", "cpu", "--out", str(tmp_path), "--threads", "1"])
    thr = json.loads((tmp_path / "throughput.json").read_text())
    assert {k: thr["profile"][k] for k in ("model", "batch_size", "lr", "budget_ge")} == \
        {"model": "rrdb", "batch_size": 8, "lr": 1e-4, "budget_ge": 400_000}
    (erm,) = thr["methods"]
    assert erm["method"] == "ERM" and erm["steps"] == 1 and erm["it_per_s"] > 0
    assert re.search(r"ERM\s+[\d.]+ it/s", capsys.readouterr().out)
    from dil_optim.models import model_config

    kw = model_config("rrdb")[1]
    assert (kw["num_feat"], kw["num_block"], kw["num_grow_ch"]) == (64, 23, 32)
    assert erm["params"] == 16_697_987 - 2 * (64 * 64 * 9 + 64)  # ESRGAN x4 minus its two upsampling convs


@pytest.mark.slow
def test_paper_profile_all_variants_start_on_cpu(tmp_path: Path):
    runner.main(TABLE1_SPEC, ["--profile", "paper", "--throughput-only", "--max-steps", "1", "--patch-size", "8",
                              "--batch-size", "1", "--device", "cpu", "--out", str(tmp_path), "--threads", "1"])
    thr = json.loads((tmp_path / "throughput.json").read_text())
    assert [m["method"] for m in thr["methods"]] == ["ERM", "DIL_sf", "DIL_pf", "DIL_ss", "DIL_ps"]


class _Collect:
    def __init__(self):
        self.msgs = []

    def put(self, msg):
        self.msgs.append(msg)


def test_worker_pool_keeps_order_forwards_progress_and_fails_fast():
    from dil_optim.training.reproduce.pool import run_parallel
    from pool_helpers import square  # a module without torch: the spawned workers start fast

    got = _Collect()
    assert run_parallel(square, [3, 1, 2], 2, got) == [9, 1, 4]
    assert sorted(m[2] for m in got.msgs) == [1, 2, 3]
    with pytest.raises(ValueError, match="bad job -1"):
        run_parallel(square, [-1, 2], 2, _Collect())


def test_worker_pool_stops_every_worker_on_a_failure():
    """A failure (a SIGTERM to the parent is handled the same way) stops the other workers
    within the grace time instead of waiting for their jobs."""
    import time

    from dil_optim.training.reproduce.pool import run_parallel
    from pool_helpers import fail_or_sleep

    t0 = time.monotonic()
    with pytest.raises(ValueError, match="bad job"):
        run_parallel(fail_or_sleep, [-1.0, 60.0], 2, _Collect(), grace_s=2.0)
    assert time.monotonic() - t0 < 30.0
