"""Progress you can see: a tqdm bar on a terminal, periodic log lines with rate and ETA in logs.

``Meter`` does the arithmetic (rate over the whole session, ETA, elapsed wall time including
everything, not only the training steps); ``Progress`` shows it: a tqdm bar when stderr is a
terminal and tqdm is installed, else a ``logging`` line after the first unit, every ``every_s``
seconds and at the end.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

__all__ = ["Meter", "Progress", "format_duration"]


def format_duration(seconds: float) -> str:
    """``"42 s"``, ``"3 min 05 s"``, ``"2 h 07 min"``; ``"?"`` when unknown."""
    if seconds != seconds or seconds < 0 or seconds == float("inf"):
        return "?"
    s = int(round(seconds))
    if s < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


class Meter:
    """Counts units done since ``start`` (units done before it, e.g. on resume, are not timed).

    Args:
        total: units of the whole run. done: units already done when this session starts.
        clock: a monotonic clock in seconds (injectable for tests).
    """

    def __init__(self, total: int, done: int = 0, clock: Any = time.perf_counter) -> None:
        self.total, self.start_done, self.done, self.clock = total, done, done, clock
        self.t0 = clock()

    def update(self, done: int) -> None:
        self.done = done

    @property
    def elapsed(self) -> float:
        return self.clock() - self.t0

    @property
    def rate(self) -> float:
        """Units per second in this session (0 before the first unit)."""
        n, t = self.done - self.start_done, self.elapsed
        return n / t if n > 0 and t > 0 else 0.0

    @property
    def eta(self) -> float:
        """Seconds left at the session's rate (inf before the first unit)."""
        left = self.total - self.done
        return 0.0 if left <= 0 else (left / self.rate if self.rate > 0 else float("inf"))

    def line(self, unit: str = "it") -> str:
        pct = 100.0 * self.done / self.total if self.total else 100.0
        return (
            f"{self.done}/{self.total} {unit} ({pct:.0f}%), {self.rate:.3g} {unit}/s, "
            f"elapsed {format_duration(self.elapsed)}, ETA {format_duration(self.eta)}"
        )


class Progress:
    """A bar on a terminal, log lines with rate and ETA otherwise.

    Args:
        total, done: as :class:`Meter`. desc: what is counted ("train", "eval CBSD68").
        logger: where the lines go. every_s: seconds between lines (the last is always written).
        bar: True/False to force the tqdm bar; None: on a terminal when tqdm is installed.
    """

    def __init__(
        self,
        total: int,
        desc: str,
        logger: logging.Logger,
        *,
        done: int = 0,
        unit: str = "it",
        every_s: float = 30.0,
        bar: bool | None = None,
        clock: Any = time.perf_counter,
    ) -> None:
        self.meter, self.desc, self.logger, self.unit = Meter(total, done, clock), desc, logger, unit
        self.every_s, self.last = every_s, self.meter.t0
        self.bar = None
        if bar is None:
            bar = sys.stderr.isatty()
        if bar:
            try:
                from tqdm.auto import tqdm
            except ImportError:  # pragma: no cover - tqdm is an optional extra
                tqdm = None
            if tqdm is not None:
                self.bar = tqdm(total=total, initial=done, desc=desc, unit=unit, dynamic_ncols=True)

    def update(self, done: int, **postfix: Any) -> None:
        self.meter.update(done)
        if self.bar is not None:
            self.bar.update(done - self.bar.n)
            if postfix:
                self.bar.set_postfix(postfix, refresh=False)
            return
        now = self.meter.clock()
        first = done == self.meter.start_done + 1  # say at once that the run is under way
        if first or now - self.last >= self.every_s or done >= self.meter.total:
            self.last = now
            extra = "".join(f", {k} {v}" for k, v in postfix.items())
            self.logger.info("%s: %s%s", self.desc, self.meter.line(self.unit), extra)

    def close(self) -> float:
        """Closes the bar; returns the session's elapsed wall time in seconds."""
        if self.bar is not None:
            self.bar.close()
        return self.meter.elapsed
