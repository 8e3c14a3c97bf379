"""Where and how a reproduction ran: the command line, library versions and load, written
atomically as JSON (``results.json`` and ``throughput.json`` carry them)."""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

__all__ = ["command_line", "now", "versions", "write_json", "write_throughput"]


def versions(device: torch.device) -> dict[str, Any]:
    """Python, torch, torchvision, numpy and dil_optim versions, the platform, the device (and GPU), the load."""
    import numpy
    import torchvision

    import dil_optim

    v: dict[str, Any] = {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": numpy.__version__,
        "dil_optim": dil_optim.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "device": str(device),
    }
    if device.type == "cuda":
        v["gpu"] = torch.cuda.get_device_name(device)
        v["cuda"] = torch.version.cuda
    try:
        v["load_average"] = os.getloadavg()
    except OSError:  # pragma: no cover
        pass
    return v


def command_line(argv: list[str] | None) -> str:
    """The command that ran, as one shell line (``argv``: the arguments, default ``sys.argv[1:]``)."""
    return shlex.join(["python", sys.argv[0], *(sys.argv[1:] if argv is None else argv)])


def write_json(path: Path, obj: Any) -> None:
    """``json.dump`` to a temporary file, then ``os.replace`` onto ``path`` (atomic)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=1))
    os.replace(tmp, path)


def write_throughput(
    out: Path, records: list[dict[str, Any]], profile: Any, device: torch.device, argv: list[str] | None
) -> Path:
    path = out / "throughput.json"
    write_json(
        path,
        {
            "command": command_line(argv),
            "created": now(),
            "profile": asdict(profile),
            "versions": versions(device),
            "methods": records,
        },
    )
    return path


def now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
