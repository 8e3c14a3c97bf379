"""Peak memory of one training-step configuration, measured the same way by every step benchmark
(``overhead.py``, ``second_order_modes.py``).

- CUDA (:func:`cuda_peak`): ``torch.cuda.max_memory_allocated`` over two steps after the warm-up,
  minus what was allocated before the configuration was built.
- CPU (:func:`rss_peak`): each configuration runs in its own process, forked from a helper that
  has only imported torch (:func:`serve` in the helper, :func:`measure_in_children` in the
  parent). After the warm-up the kernel's RSS high-water mark is reset (``/proc/self/clear_refs``)
  and one more step runs. The peak is the anonymous memory gained since just before the
  configuration was built (model, optimizer and wrapper state) plus that step's rise of the
  high-water mark, with glibc's ``MALLOC_MMAP_THRESHOLD_`` fixed so that freed tensors leave the
  RSS. Code pages of libtorch that the first steps touch are not counted: a tiny version of the
  same configuration runs twice before the baseline.

All sizes are bytes.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

Step = Callable[[], Any]
#: builds one configuration: returns (the object that must stay alive, e.g. the model; its step)
Build = Callable[[], tuple[Any, Step]]

REPO = Path(__file__).resolve().parents[1]


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA); nothing on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def cuda_peak(build: Build, device: torch.device, warmup: int) -> int:
    """CUDA peak allocated over two steps after ``warmup`` steps, beyond what was allocated before
    the configuration existed."""
    gc.collect()
    torch.cuda.empty_cache()
    sync(device)
    base = torch.cuda.memory_allocated(device)
    keep, step = build()
    for _ in range(warmup):
        step()
    sync(device)
    torch.cuda.reset_peak_memory_stats(device)
    for _ in range(2):
        step()
    sync(device)
    peak = torch.cuda.max_memory_allocated(device) - base
    del keep, step
    return int(peak)


def status_kib(field: str) -> int:
    """One field of ``/proc/self/status`` (``VmRSS``, ``VmHWM``, ``RssAnon``, ...) in KiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise OSError(f"/proc/self/status has no {field}")


def reset_peak_rss() -> bool:
    """Reset the kernel's RSS high-water mark (VmHWM) to the current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def rss_peak(build_tiny: Build, build: Build, warmup: int) -> dict[str, int]:
    """``{"peak", "persistent", "transient"}`` of one CPU configuration, in a process that has run
    no other one: ``build_tiny`` (the same configuration on a tiny net and input) runs first, so
    that lazy imports and initialisations (torch.optim pulls in torch._dynamo, ~80 MB) belong to
    no configuration."""
    _, tiny = build_tiny()
    for _ in range(2):
        tiny()
    del tiny
    gc.collect()
    anon0 = status_kib("RssAnon")
    keep, step = build()
    for _ in range(max(warmup, 1)):
        step()
    gc.collect()
    if not reset_peak_rss():
        raise OSError("cannot reset the peak RSS (/proc/self/clear_refs); measure memory on CUDA or use --no-memory")
    rss1, anon1 = status_kib("VmRSS"), status_kib("RssAnon")
    step()
    transient = status_kib("VmHWM") - rss1
    del keep
    return {"peak": 1024 * (anon1 - anon0 + transient), "persistent": 1024 * (anon1 - anon0), "transient": 1024 * transient}


def serve(items: list[str], measure: Callable[[str], dict[str, int]]) -> None:
    """The helper process's body: torch is imported but unused here; each item is measured in a
    child forked from this clean state (a fresh process without the import cost), which prints
    one JSON line ``{"item": ..., **measure(item)}`` (or ``"error"``)."""
    for item in items:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: measure, report, leave without running the parent's cleanup
            os.close(r)
            try:
                os.write(w, json.dumps(measure(item)).encode())
                code = 0
            except BaseException as exc:  # noqa: BLE001 - reported to the parent below
                os.write(w, json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode())
                code = 1
            os._exit(code)
        os.close(w)
        with os.fdopen(r) as f:
            got = json.loads(f.read())
        os.waitpid(pid, 0)
        print(json.dumps({"item": item, **got}), flush=True)


def measure_in_children(script: str | Path, items: list[str], options: list[str]) -> dict[str, dict[str, int]]:
    """Run ``python script --child ITEM ... OPTIONS`` (a helper that calls :func:`serve`) and
    return each item's measurement; raises ``RuntimeError`` with the children's errors."""
    cmd = [sys.executable, str(script), "--child", *items, *options]
    env = {
        **os.environ,
        "MALLOC_MMAP_THRESHOLD_": "131072",
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [json.loads(x) for x in done.stdout.splitlines() if x.startswith("{")]
    errors = [x for x in lines if "error" in x]
    if done.returncode or errors or len(lines) != len(items):
        raise RuntimeError(f"memory measurement failed: {errors or done.stderr[-2000:]}")
    return {x.pop("item"): x for x in lines}
