"""Run independent jobs in spawned worker processes, forwarding their progress messages.

``run_parallel(fn, jobs, workers, progress)`` calls ``fn(job, reporter)`` for each job in a
pool of ``workers`` processes (the ``spawn`` start method: no state leaks from the parent) and
returns the results in the order of ``jobs``. Each worker's ``reporter.put(msg)`` reaches
``progress.put(msg)`` in this process (step messages at most every 0.5 s). The first failure,
Ctrl-C or SIGTERM stops every worker (they get SIGTERM, which lets a training loop write its
checkpoint); a worker whose parent dies, even by SIGKILL, exits by itself.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import queue as queue_mod
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

__all__ = ["Throttled", "run_parallel"]

_QUEUE: Any = None
_INTERRUPTED = 130  # exit status of a worker stopped by SIGTERM / Ctrl-C


class Throttled:
    """Forwards progress messages to a queue, dropping a ``("step", _, _, step, steps, ...)``
    report closer than 0.5 s to the previous message unless it is the last step."""

    def __init__(self, queue: Any) -> None:
        self.queue, self.last = queue, 0.0

    def put(self, msg: tuple[Any, ...]) -> None:
        now = time.monotonic()
        if msg[0] == "step" and msg[3] != msg[4] and now - self.last < 0.5:
            return
        self.last = now
        self.queue.put(msg)


def _init_worker(queue: Any) -> None:
    global _QUEUE
    _QUEUE = queue
    logging.basicConfig(level=logging.ERROR)  # the parent process does the talking
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _call(fn: Callable[[Any, Any], Any], job: Any) -> Any:
    try:
        return fn(job, Throttled(_QUEUE))
    except KeyboardInterrupt:  # SIGTERM from the parent: the job has written its checkpoint; leave
        os._exit(_INTERRUPTED)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run_parallel(
    fn: Callable[[Any, Any], Any], jobs: Sequence[Any], workers: int, progress: Any, grace_s: float = 60.0
) -> list[Any]:
    """``[fn(job, reporter) for job in jobs]``, computed in ``workers`` processes; ``fn`` and the
    jobs must be picklable (a module-level function, plain data). On a failure, Ctrl-C or
    SIGTERM the workers get SIGTERM and ``grace_s`` seconds to write their checkpoints and exit;
    any still running then is killed."""
    ctx = mp.get_context("spawn")
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_interrupt)  # stop the workers too, as Ctrl-C does
    q = ctx.Queue()
    executor = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(q,))
    try:
        futures = [executor.submit(_call, fn, job) for job in jobs]
        while True:
            try:
                progress.put(q.get(timeout=0.2))
                continue
            except queue_mod.Empty:
                pass
            failed = [f for f in futures if f.done() and f.exception() is not None]
            if failed:
                raise failed[0].exception()  # type: ignore[misc]
            if all(f.done() for f in futures):
                break
        results = [f.result() for f in futures]
    except BaseException:
        procs = list(getattr(executor, "_processes", {}).values())
        for p in procs:  # SIGTERM: a training job writes its checkpoint at the end of its step, then exits
            p.terminate()
        deadline = time.monotonic() + grace_s
        for p in procs:
            p.join(max(0.0, deadline - time.monotonic()))
            if p.is_alive():  # not in a training step (or stuck): do not wait for it
                p.kill()
        executor.shutdown(wait=False, cancel_futures=True)
        raise
    executor.shutdown()
    return results
