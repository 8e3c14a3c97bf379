"""Atomic, verified checkpoints and the stop-request context."""

from __future__ import annotations

import os
import signal

import pytest
import torch

from dil_optim.training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from dil_optim.training.interrupt import StopRequest


def _state():
    return {"model": {"w": torch.arange(6.0).reshape(2, 3)}, "step": 7, "rng": torch.get_rng_state()}


def test_round_trip(tmp_path):
    path = save_checkpoint(_state(), tmp_path / "sub" / "ckpt.pt")
    state = load_checkpoint(path)
    assert state["step"] == 7 and torch.equal(state["model"]["w"], _state()["model"]["w"])
    assert [p.name for p in path.parent.iterdir()] == ["ckpt.pt"]  # no temporary left behind


def test_truncated_and_tampered_files_are_refused(tmp_path):
    path = save_checkpoint(_state(), tmp_path / "ckpt.pt")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(path)
    flipped = bytearray(data)
    flipped[-10] ^= 0xFF
    path.write_bytes(bytes(flipped))
    with pytest.raises(CheckpointError, match="SHA-256"):
        load_checkpoint(path)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a dil-optim checkpoint"):
        load_checkpoint(path)
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_checkpoint(tmp_path / "missing.pt")


def test_failed_write_keeps_the_old_checkpoint(tmp_path):
    path = save_checkpoint(_state(), tmp_path / "ckpt.pt")
    before = path.read_bytes()

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        save_checkpoint({"bad": Unpicklable()}, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]


def test_code_objects_are_not_loaded(tmp_path):
    path = save_checkpoint({"fn": os.getcwd}, tmp_path / "ckpt.pt")
    with pytest.raises(Exception, match="(?i)weights_only|unsupported|global"):
        load_checkpoint(path)


def test_stop_request_catches_sigterm():
    with StopRequest() as stop:
        assert stop.requested is None
        signal.raise_signal(signal.SIGTERM)
        assert stop.requested == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
