"""The small parts of a reproduction run: the resume guard, the history, the unseen-level summary
and the provenance JSON (the whole runner is exercised by the table smoke tests)."""

from __future__ import annotations

import json
import math

import pytest
import torch

from dil_optim.training.reproduce import provenance
from dil_optim.training.reproduce.resume import ConfigGuard, History, differences
from dil_optim.training.reproduce.summary import erm_label, summarise


def test_differences_names_each_nested_leaf():
    saved = {"lr": 1e-4, "profile": {"batch_size": 8, "model": "dncnn"}, "gone": 1}
    now = {"lr": 1e-4, "profile": {"batch_size": 16, "model": "dncnn"}, "new": [1, 2]}
    assert differences(saved, now) == [
        "gone: saved 1, now None",
        "new: saved None, now [1, 2]",
        "profile.batch_size: saved 8, now 16",
    ]
    assert differences(saved, saved) == []


def test_config_guard_refuses_another_configuration_and_round_trips(tmp_path):
    guard = ConfigGuard({"lr": 1e-3, "seed": 0}, tmp_path / "checkpoint.pt")
    state = guard.state_dict()
    ConfigGuard({"lr": 1e-3, "seed": 0}, tmp_path / "x").load_state_dict(state)  # same: accepted
    with pytest.raises(ValueError, match=r"checkpoint\.pt was written with another configuration \(lr: saved 0.01"):
        guard.check({"lr": 1e-2, "seed": 0})


def test_history_round_trips_through_its_state():
    h = History()
    h.evals.append({"step": 5, "rows": [{"psnr": 30.0}]})
    other = History()
    other.load_state_dict(h.state_dict())
    assert other.evals == h.evals


def _rows(method, seed, psnrs):
    return [{"method": method, "seed": seed, "sigma": s, "psnr": p} for s, p in psnrs.items()]


def test_summarise_means_the_unseen_levels_per_seed_and_gains_over_the_backbones_erm():
    results = (
        _rows("ERM", 0, {15: 30.0, 50: 20.0, 40: 22.0})
        + _rows("ERM", 1, {15: 30.0, 50: 21.0, 40: 23.0})
        + _rows("DIL_sf", 0, {15: 29.0, 50: 21.0, 40: 23.0})
        + _rows("DIL_sf", 1, {15: 29.0, 50: 21.0, 40: 22.0})
        + _rows("RRDB/ERM", 0, {50: 25.0})
        + _rows("RRDB/DIL_ps", 0, {50: 24.0})
    )
    s = summarise(results, "sigma", ["ERM", "DIL_sf", "RRDB/ERM", "RRDB/DIL_ps"], {40, 50})
    assert s["ERM"]["per_seed"] == {0: 21.0, 1: 22.0}
    assert s["DIL_sf"]["gain_per_seed"] == {0: 1.0, 1: -0.5}
    assert s["DIL_sf"]["gain"] == pytest.approx(0.25)
    assert s["RRDB/DIL_ps"]["gain"] == pytest.approx(-1.0)  # against RRDB/ERM, not ERM
    assert erm_label("RRDB/DIL_ps") == "RRDB/ERM" and erm_label("DIL_sf") == "ERM"
    assert math.isnan(summarise(results, "sigma", ["Nope"], {50})["Nope"]["mean"])


def test_write_json_replaces_atomically_and_versions_name_the_device(tmp_path):
    path = tmp_path / "r.json"
    provenance.write_json(path, {"a": 1})
    provenance.write_json(path, {"a": 2, "v": provenance.versions(torch.device("cpu"))})
    got = json.loads(path.read_text())
    assert got["a"] == 2 and got["v"]["device"] == "cpu" and got["v"]["torch"] == torch.__version__
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary file left behind
    assert provenance.command_line(["--seed", "0 1"]).endswith("--seed '0 1'")
