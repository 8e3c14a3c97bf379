"""The one line a reproduction logs about its test sets: those found, those absent and where to
get each (details appended to the run's ``log.txt``)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

__all__ = ["announce_sets"]

logger = logging.getLogger("dil_optim.training.reproduce")


def announce_sets(sets: list[Any], absent: list[str], asked: tuple[str, ...], log: Path | None = None) -> None:
    """One line: the test sets found, those absent, whether the built-in photographs stand in, and
    the one command that fetches the downloadable ones; each absent set's details go to ``log``."""
    if not asked:
        logger.info("no test sets: scoring the validation split only")
        return
    found = ", ".join(f"{n} ({i['files']} images)" for n, _, i in sets)
    if not absent:
        logger.info("test sets: %s", found)
        return
    how = {n: _how_to_get(n) for n in absent}
    fetch = [n for n in absent if "downloader" in how[n]]
    standin = " (the built-in photographs stand in)" if [n for n, _, _ in sets] == ["builtin"] else ""
    line = f"test sets: {found}{standin}; absent: {', '.join(absent)}"
    if fetch:
        line += f"; fetch them: python -m dil_optim.data.downloader {' '.join(fetch)} --data-root DIR"
    if log is not None:
        with open(log, "a") as f:
            f.write("".join(f"absent test set {n}: {h}\n" for n, h in how.items()))
        line += f" (where to get each: {log})"
    logger.info("%s", line)


def _how_to_get(name: str) -> str:
    """The registry's instructions for an absent test set (its download command, or its source)."""
    from ...data import lookup_test_set

    try:
        spec = lookup_test_set(name)
    except ValueError:
        return "not a registered test set: put its images in <data-root>/" + name
    return spec.how_to_get.format(name=spec.name) + f" ({spec.count} images expected)"
