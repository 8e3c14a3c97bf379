"""Light helpers for the worker-pool test: spawned children import only this module and the
standard library (not torch), so the test stays fast."""

from __future__ import annotations

from typing import Any


def square(job: int, reporter: Any) -> int:
    reporter.put(("step", "m", job, 1, 1, 0.0))
    if job < 0:
        raise ValueError(f"bad job {job}")
    return job * job



def fail_or_sleep(job: float, reporter: Any) -> float:
    """Fails after a second when ``job`` < 0, else sleeps ``job`` seconds (a long job)."""
    import time

    reporter.put(("step", "m", 0, 1, 1, 0.0))
    time.sleep(1.0 if job < 0 else job)
    if job < 0:
        raise ValueError(f"bad job {job}")
    return job
