"""Turn SIGTERM / SIGINT into a request to checkpoint and stop at the next step boundary."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType, TracebackType

__all__ = ["StopRequest"]

logger = logging.getLogger(__name__)


class StopRequest:
    """Context manager: while active, SIGTERM and SIGINT set :attr:`requested` instead of
    killing the process; the training loop checks it between steps, writes a checkpoint and
    returns. A second signal of the same kind falls through to the previous handler (so a
    second Ctrl-C still interrupts at once). Outside the main thread it does nothing.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.requested: int | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested is not None:
            previous = self._previous.get(signum)
            signal.signal(signum, previous if callable(previous) else signal.SIG_DFL)
            signal.raise_signal(signum)
            return
        self.requested = signum
        logger.warning("received %s: will checkpoint and stop after the current step", signal.Signals(signum).name)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)  # type: ignore[arg-type]
        self._previous.clear()
