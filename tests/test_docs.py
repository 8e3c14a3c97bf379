"""Every Python block in README.md and docs/*.md runs as written, and the example config trains.

Each block runs on its own: a fresh namespace (no imports or names from an earlier block), the
working directory a new temporary folder, under a time limit. A block that genuinely cannot run
here (it needs a GPU, torchrun, or the paper's data sets) is preceded by the line
``<!-- docs-test: skip (the reason) -->``; one that takes long by ``<!-- docs-test: slow -->``.
"""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TIME_LIMIT_S = 120
_MARKER = re.compile(r"<!--\s*docs-test:\s*(skip|slow)\b\s*(.*?)\s*-->")


def python_blocks(path: Path) -> list[tuple[int, str, str | None, str]]:
    """``(line, code, marker, reason)`` for each fenced ```python block of a Markdown file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```python":
            start = i + 1
            j = start
            while j < len(lines) and lines[j].strip() != "```":
                j += 1
            prev = next((lines[k] for k in range(i - 1, -1, -1) if lines[k].strip()), "")
            m = _MARKER.search(prev)
            blocks.append((start + 1, "\n".join(lines[start:j]) + "\n", m.group(1) if m else None,
                           m.group(2) if m else ""))
            i = j
        i += 1
    return blocks


def _cases():
    for path in DOCS:
        for line, code, marker, reason in python_blocks(path):
            ident = f"{path.relative_to(ROOT)}:{line}"
            marks = []
            if marker == "skip":
                marks.append(pytest.mark.skip(reason=f"docs-test: skip {reason}"))
            elif marker == "slow":
                marks.append(pytest.mark.slow)
            yield pytest.param(path, line, code, id=ident, marks=marks)


class _TimeLimit(Exception):
    pass


@pytest.mark.parametrize("path, line, code", list(_cases()))
def test_docs_block_runs(path, line, code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def expire(signum, frame):
        raise _TimeLimit(f"{path.name}:{line} ran past {TIME_LIMIT_S} s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(TIME_LIMIT_S)
    try:
        exec(compile(code, f"{path}:{line}", "exec"), {"__name__": "__main__"})
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def test_every_doc_has_its_blocks_found():
    total = sum(len(python_blocks(p)) for p in DOCS)
    skipped = [(p.name, b[0]) for p in DOCS for b in python_blocks(p) if b[2] == "skip"]
    assert total >= 10
    assert len(skipped) <= 3, f"keep the skipped docs blocks few: {skipped}"


def test_example_config_trains(tmp_path, monkeypatch):
    """docs/example_config.toml as shipped (every key), shortened to two steps and a tmp output."""
    import sys

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    from dil_optim.cli import main
    from dil_optim.training.config import RunConfig, load_config
    from dil_optim.training.preflight import flatten
    from dil_optim.training.train import load_checkpoint

    source = ROOT / "docs" / "example_config.toml"
    cfg = load_config(source)  # valid as shipped
    text = source.read_text()
    sections = flatten(tomllib.loads(text))
    # keys without a TOML value (None defaults) are shown commented out: "# inner_steps = 1"
    shown = {k for k in flatten(RunConfig().to_dict())
             if k in sections or re.search(rf"(?m)^#\s*{re.escape(k.split('.')[-1])}\s*=", text)}
    missing = sorted(set(flatten(RunConfig().to_dict())) - shown)
    assert not missing, f"docs/example_config.toml lacks {missing}"
    text = re.sub(r"(?m)^steps = \d+", "steps = 2", text)
    text = re.sub(r"(?m)^milestones = \[.*?\]", "milestones = [1]", text)
    text = re.sub(r'(?m)^dir = ".*?"', f'dir = "{tmp_path / "run"}"', text)
    text = re.sub(r"(?m)^patch_size = \d+", "patch_size = 16", text)
    text = re.sub(r"(?m)^batch_size = \d+", "batch_size = 2", text)
    text = re.sub(r'(?m)^device = ".*?"', 'device = "cpu"', text)
    short = tmp_path / "run.toml"
    short.write_text(text)
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--config", str(short)]) == 0
    state = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert state["step"] == 2 and state["extra"]["config"]["model"]["name"] == cfg.model.name
