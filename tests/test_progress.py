"""dil_optim.training.progress: rate, ETA and elapsed time are right; log lines when not on a terminal."""

from __future__ import annotations

import logging

import pytest

from dil_optim.training.progress import Meter, Progress, format_duration


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_meter_rate_and_eta_count_this_session_only():
    clock = Clock()
    m = Meter(100, done=40, clock=clock)
    assert m.rate == 0.0 and m.eta == float("inf")
    clock.t += 10.0
    m.update(60)  # 20 units in 10 s
    assert m.rate == pytest.approx(2.0) and m.eta == pytest.approx(20.0) and m.elapsed == pytest.approx(10.0)
    assert "60/100 it (60%), 2 it/s, elapsed 10 s, ETA 20 s" == m.line()
    m.update(100)
    assert m.eta == 0.0


@pytest.mark.parametrize("s, text", [(3.25, "3.2 s"), (42, "42 s"), (185, "3 min 05 s"), (7620, "2 h 07 min"),
                                     (float("inf"), "?"), (float("nan"), "?")])
def test_format_duration(s, text):
    assert format_duration(s) == text


def test_progress_logs_first_periodic_and_last(caplog: pytest.LogCaptureFixture):
    clock = Clock()
    log = logging.getLogger("test-progress")
    p = Progress(10, "train", log, unit="step", every_s=5.0, bar=False, clock=clock)
    with caplog.at_level(logging.INFO, logger="test-progress"):
        for step in range(1, 11):
            clock.t += 1.0
            p.update(step, loss="0.1")
    lines = [r.getMessage() for r in caplog.records]
    assert [ln.split(":")[1].split()[0] for ln in lines] == ["1/10", "6/10", "10/10"]
    assert "ETA" in lines[0] and "loss 0.1" in lines[0] and "1 step/s" in lines[-1]
    assert p.close() == pytest.approx(10.0)
