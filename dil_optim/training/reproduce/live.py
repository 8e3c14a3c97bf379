"""Progress of a reproduction run while it runs, in the main process: a tqdm bar per job on a
terminal, otherwise periodic lines with each job's rate and ETA; a line per evaluation and per
finished job either way, also appended to ``log.txt``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..progress import Meter, format_duration

__all__ = ["Progress"]


class Progress:
    """Main-process side of the progress reports: a tqdm bar per job on a terminal; otherwise a
    line every ``every_s`` seconds with each running job's rate and ETA. A line per evaluation
    and per finished job either way (also appended to ``log.txt`` in the output folder)."""

    def __init__(self, jobs: list[Any], key: str, log: Path, every_s: float = 60.0) -> None:
        from tqdm.auto import tqdm

        self.tqdm, self.key, self.log, self.every_s = tqdm, key, log, every_s
        self.lab = jobs[0].spec.level_label if jobs else (lambda v: f"{v:g}")
        self.bars = {
            (j.tag, j.seed): tqdm(
                total=j.steps, desc=f"{j.tag} seed {j.seed}", position=i, unit="it", dynamic_ncols=True, disable=None
            )
            for i, j in enumerate(jobs)
        }
        self.meters: dict[tuple[str, int], Any] = {}
        self.make_meter, self.last = Meter, time.perf_counter()
        self.t0 = self.last

    def line(self, text: str) -> None:
        self.tqdm.write(text)
        with open(self.log, "a") as f:
            f.write(text + "\n")

    def _periodic(self) -> None:
        now = time.perf_counter()
        if now - self.last < self.every_s or all(not b.disable for b in self.bars.values()):
            return
        self.last = now
        running = [f"{name} seed {seed} {m.line()}" for (name, seed), m in self.meters.items() if m.done < m.total]
        if running:
            self.line(f"progress after {format_duration(now - self.t0)}: " + "; ".join(running))

    def put(self, msg: tuple[Any, ...]) -> None:
        kind, name, seed = msg[:3]
        bar = self.bars[(name, seed)]
        if kind == "step":
            step, steps, loss = msg[3:]
            if (name, seed) not in self.meters:  # the first report of a (possibly resumed) job
                self.meters[(name, seed)] = self.make_meter(steps, done=step - 1)
            self.meters[(name, seed)].update(step)
            bar.update(step - bar.n)
            bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
            self._periodic()
        elif kind == "eval":
            step, steps, gps, rows = msg[3:]
            parts = [f"{r['dataset']} {self.key}={self.lab(r['level'])}: {r['psnr']:.2f}/{r['ssim']:.3f}" for r in rows]
            self.line(f"eval {name} seed {seed} step {step}/{steps} ({step * gps} ge): " + "; ".join(parts))
        elif kind == "done":
            steps, rec = msg[3:]
            bar.update(steps - bar.n)
            bar.close()
            if "it_per_s" in rec:
                self.line(
                    f"throughput {name}: {rec['it_per_s']:.3f} it/s, {rec['ge_per_s']:.2f} ge/s "
                    f"({rec['ge_per_step']} ge per step, {rec['steps']} steps, {rec['wall_time_s']:.1f} s)"
                )
            elif "wall_time_s" in rec:
                self.line(
                    f"done {name} seed {seed}: {rec['steps']} steps, {format_duration(rec['wall_time_s'])} "
                    f"of training steps, {format_duration(rec.get('eval_time_s', 0.0))} of evaluation; "
                    f"{format_duration(time.perf_counter() - self.t0)} since the start of the run"
                )
