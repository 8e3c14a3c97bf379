"""Run configurations: defaults, and errors that name the bad key and the allowed values."""

from __future__ import annotations

import pytest

from dil_optim.training.config import ConfigError, load_config, parse_config


def test_minimal_config_gets_defaults():
    cfg = parse_config({"train": {"steps": 10}})
    assert cfg.task == "denoise" and cfg.dil.variant == "sf" and cfg.train.lr == 1e-4
    assert cfg.to_dict()["train"]["steps"] == 10


@pytest.mark.parametrize("raw, message", [
    ({"train": {"steps": 1, "stepz": 2}}, r"unknown key train\.stepz in \[train\]; allowed keys: steps, lr"),
    ({"train": {"steps": 1}, "colour": 1}, r"unknown key colour in the top level"),
    ({"train": {"steps": 1}, "dil": {"variant": "maml"}}, r"dil\.variant = 'maml' is not allowed; choose one of erm, sf"),
    ({"train": {"steps": 1}, "task": "inpaint"}, r"task = 'inpaint' is not allowed; choose one of denoise"),
    ({"train": {"steps": 1}, "model": {"name": "unet"}}, r"model\.name = 'unet'.*rrdb"),
    ({"train": {"steps": 1, "precision": "fp8"}}, r"train\.precision = 'fp8'.*fp32, bf16, fp16"),
    ({"train": {"steps": "many"}}, r"train\.steps must be of type int"),
    ({"train": {}}, r"train\.steps must be a positive integer"),
    ({"train": {"steps": 1, "lr": 0}}, r"train\.lr must be > 0"),
    ({"train": {"steps": 1, "milestones": [5, 2]}}, r"train\.milestones must be increasing"),
    ({"train": 3}, r"\[train\] must be a table"),
])
def test_bad_values_name_the_key(raw, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)


def test_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.toml"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\nsteps = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
