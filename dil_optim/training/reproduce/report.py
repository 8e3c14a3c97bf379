"""Reports of a reproduction run (progress while it runs is :mod:`.live`):
``results.json``, the table in the paper's layout (ours beside the paper's), the
PSNR-against-level figure, and ``throughput.json``."""

from __future__ import annotations

import json
import logging
import os
import platform
import shlex
import statistics
import sys
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

__all__ = ["announce_sets", "write_json", "versions", "write_all", "write_throughput", "summarise"]

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


def versions(device: torch.device) -> dict[str, Any]:
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


def _command(argv: list[str] | None) -> str:
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
            "command": _command(argv),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "profile": asdict(profile),
            "versions": versions(device),
            "methods": records,
        },
    )
    return path


def _mean(xs: list[float]) -> float:
    return statistics.fmean(xs) if xs else float("nan")


def summarise(
    results: list[dict[str, Any]], key: str, methods: list[str], unseen: set[float]
) -> dict[str, dict[str, Any]]:
    """Per method: mean PSNR over sets and unseen levels per seed, its mean, and its gain over ERM."""
    out: dict[str, dict[str, Any]] = {}
    for m in methods:
        per_seed: dict[int, float] = {}
        for seed in sorted({r["seed"] for r in results}):
            vals = [r["psnr"] for r in results if r["method"] == m and r["seed"] == seed and r[key] in unseen]
            if vals:
                per_seed[seed] = _mean(vals)
        out[m] = {"per_seed": per_seed, "mean": _mean(list(per_seed.values()))}
    for m, s in out.items():
        erm = out.get(erm_label(m))
        if erm is not None:
            gains = {k: v - erm["per_seed"][k] for k, v in s["per_seed"].items() if k in erm["per_seed"]}
            s["gain_per_seed"] = gains
            s["gain"] = _mean(list(gains.values()))
    return out


def erm_label(method: str) -> str:
    """The ERM a method's gain is measured against: ``"ERM"``, or the same backbone's (``"RRDB/ERM"``)."""
    prefix, _, _ = method.rpartition("/")
    return f"{prefix}/ERM" if prefix else "ERM"


def _cell(rows: list[dict[str, Any]], erm: list[dict[str, Any]] | None) -> str:
    if not rows:
        return "–"
    p, s = _mean([r["psnr"] for r in rows]), _mean([r["ssim"] for r in rows])
    text = f"{p:.2f}/{s:.3f}"
    if erm:
        text += f" ({p - _mean([r['psnr'] for r in erm]):+.2f})"
    if len(rows) > 1:
        text += f" ±{(max(r['psnr'] for r in rows) - min(r['psnr'] for r in rows)) / 2:.2f}"
    return text


def _paper_cell(entry: tuple[float, float, float | None] | None) -> str:
    if entry is None:
        return "–"
    p, s, g = entry
    return f"{p:.2f}/{s:.3f}" + (f" ({g:+.2f})" if g is not None else "")


def _lr_line(records: list[dict[str, Any]], lr_choice: dict[str, dict[str, Any]]) -> str:
    """Which lr each method trained with, how it was chosen, and the convergence flags."""
    parts = []
    for m in dict.fromkeys(r["method"] for r in records):
        rs = [r for r in records if r["method"] == m]
        text = f"{m} {rs[0]['lr']:g}"
        if m in lr_choice:
            text += " (grid " + ", ".join(f"{k}: {v:.2f}" for k, v in lr_choice[m]["val_seen_psnr"].items()) + " dB)"
        flags = [r for r in rs if (r.get("convergence") or {}).get("flag")]
        if flags:
            text += (
                " UNDER-TRAINED: seen-level validation PSNR still rose "
                + ", ".join(f"{r['convergence']['rise_db']:+.2f} dB (seed {r['seed']})" for r in flags)
                + " over the last quarter"
            )
        parts.append(text)
    how = (
        "chosen per method on the validation split at the seen levels (mean PSNR over seeds)"
        if lr_choice
        else "fixed by the profile"
    )
    return f"- Learning rate (outer = inner/virtual), {how}: " + "; ".join(parts) + "."


def write_table(
    path: Path,
    spec: Any,
    profile: Any,
    jobs: list[Any],
    records: list[dict[str, Any]],
    results: list[dict[str, Any]],
    inputs: list[dict[str, Any]],
    sets: list[Any],
    absent: list[str],
    total_s: float,
    device: torch.device,
    argv: list[str] | None,
    lr_choice: dict[str, dict[str, Any]] | None = None,
) -> None:
    lr_choice = lr_choice or {}
    key = spec.level_key
    methods = list(dict.fromkeys(r["method"] for r in records))
    seeds = sorted({r["seed"] for r in records})
    levels, train_levels, seen = jobs[0].levels, jobs[0].train_levels, jobs[0].seen_levels
    unseen = {v for v in levels if v not in seen}
    lab = spec.level_label
    L: list[str] = [f"# {spec.title}: ours ({profile.name} profile) beside the paper's", ""]
    params = records[0].get("params", 0)
    backbones = {r.get("backbone"): r for r in records if r.get("backbone")}
    model = (
        ", ".join(
            f"{b}: `{r['config']['profile']['model']}` ({r.get('params', 0) / 1e6:.3f} M parameters)"
            for b, r in backbones.items()
        )
        if backbones
        else f"`{profile.model}` ({params / 1e6:.3f} M parameters)"
    )
    crop = f"centre {profile.eval_crop}x{profile.eval_crop} crops" if profile.eval_crop else "whole images"
    first = f"the first {profile.eval_images} images" if profile.eval_images else "all images"
    set_desc = ", ".join(f"{n} ({info['files']}/{info['expected']} images)" for n, _, info in sets)
    L += [
        f"- Command: `{_command(argv)}`",
        f"- Backbone {model}, {profile.patch_size}x{profile.patch_size} "
        f"patches, batch {profile.batch_size}, Adam lr {profile.lr:g} x{profile.gamma:g} at "
        f"{', '.join(f'{f:.0%}' for f in profile.milestones)} of each method's steps, "
        + ("Charbonnier loss (eps 1e-3)." if getattr(spec, "loss", "l1") == "charbonnier" else "L1 loss."),
        f"- Training confounders: {spec.kind} {key} in {{{', '.join(lab(v) for v in train_levels)}}}; "
        f"training images: {jobs[0].train_root or 'built-in (scikit-image)'}.",
        (
            f"- Equal compute: every method gets {profile.budget_ge} gradient evaluations (ge: forward + backward of "
            f"a batch of {profile.batch_size}); "
            if profile.compute == "equal-ge"
            else f"- Equal steps: every method takes the {profile.budget_ge} outer steps ERM takes (the DIL "
            f"variants spend more ge; ge: forward + backward of a batch of {profile.batch_size}); "
        )
        + "ERM's batches mix the training levels per sample. Steps x ge per step = ge: "
        + ", ".join(f"{r['method']} {r['steps']} x {r['ge_per_step']} = {r['ge']}" for r in _first_seed(records))
        + ".",
        _lr_line(records, lr_choice),
        f"- Evaluation: PSNR/SSIM on {'the Y channel (BT.601)' if spec.channel == 'y' else 'RGB'} (8-bit, "
        f"no border crop), {first} of each set, {crop}: {set_desc}."
        + (f" Absent, skipped: {', '.join(absent)}." if absent else "")
        + (" Not comparable with the paper's full-set numbers." if profile.eval_images or profile.eval_crop else ""),
        f"- Seeds {', '.join(map(str, seeds))}; cells are means over seeds, (+x.xx) is the gain over ERM in dB, "
        "±x.xx half the seed-to-seed range of the PSNR. The paper: RRDB, 400K iterations, full test sets.",
        f"- Wall time: {total_s / 60:.1f} min in all on {device}; training per method (mean over seeds): "
        + ", ".join(f"{m} {_mean([r['wall_time_s'] for r in records if r['method'] == m]):.0f} s" for m in methods)
        + ".",
        *(f"- {n}" for n in spec.notes),
        "",
    ]
    inp = "Noisy input" if spec.kind == "awgn" else "Degraded input"
    head = ["Dataset", key, inp] + [c for m in methods for c in (f"{m} (ours)", f"{spec.paper_label(m)} (paper)")]
    L += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for dataset, _, info in sets:
        if info.get("no_ground_truth"):  # DND: scored by its online benchmark, not here
            subs = sorted({r["dnd_submission"] for r in records if r.get("dnd_submission")})
            row = [dataset, "real", "no public ground truth"]
            for m in methods:
                row += [
                    f"online benchmark: submit `{m}`'s `dnd_submission/` (https://noise.visinf.tu-darmstadt.de/)"
                    if subs
                    else "–",
                    _paper_cell(spec.paper.get((dataset, 0.0), {}).get(spec.paper_label(m))),
                ]
            L.append("| " + " | ".join(row) + " |")
            continue
        for v in levels:
            sel = lambda m, d=dataset, v=v: [  # noqa: E731
                r for r in results if r["method"] == m and r["dataset"] == d and r[key] == v
            ]
            noisy = [r for r in inputs if r["dataset"] == dataset and r[key] == v]
            if not noisy and not any(r["dataset"] == dataset and r[key] == v for r in results):
                continue  # a level this set is not scored at (a real level on a set without its own inputs)
            row = [dataset, f"{lab(v)} ({'seen' if v in seen else 'unseen'})", _cell(noisy, None)]
            for m in methods:
                erm = sel(erm_label(m)) if erm_label(m) in methods and m != erm_label(m) else None
                row += [_cell(sel(m), erm), _paper_cell(spec.paper.get((dataset, v), {}).get(spec.paper_label(m)))]
            L.append("| " + " | ".join(row) + " |")
    summ = summarise(results, key, methods, unseen)
    L += [
        "",
        f"Mean PSNR over the test sets at the unseen {key} ({', '.join(lab(v) for v in sorted(unseen))}), "
        "per seed, and the gain over ERM:",
        "",
        "| Method | " + " | ".join(f"seed {s}" for s in seeds) + " | mean | gain over ERM | gain per seed |",
        "|" + "---|" * (len(seeds) + 4),
    ]
    for m in methods:
        s = summ[m]
        gps = ", ".join(f"{g:+.2f}" for g in s.get("gain_per_seed", {}).values())
        L.append(
            f"| {m} | "
            + " | ".join(f"{s['per_seed'].get(x, float('nan')):.2f}" for x in seeds)
            + f" | {s['mean']:.2f} | {s.get('gain', float('nan')):+.2f} | {gps} |"
        )
    hist = [r for r in records if r.get("history")]
    if hist and len(hist[0]["history"]) > 1:
        L += [
            "",
            f"Along training: mean PSNR over the test sets at the unseen {key} (gradient evaluations):",
            "",
            "| Method | seed | " + " | ".join(f"{e['ge']} ge" for e in hist[0]["history"]) + " |",
            "|" + "---|" * (2 + len(hist[0]["history"])),
        ]
        for r in hist:
            vals = [_mean([x["psnr"] for x in e["rows"] if x["level"] in unseen]) for e in r["history"]]
            L.append(f"| {r['method']} | {r['seed']} | " + " | ".join(f"{v:.2f}" for v in vals) + " |")
    path.write_text("\n".join(L) + "\n")


def _first_seed(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seed = records[0]["seed"]
    return [r for r in records if r["seed"] == seed]


def write_figure(
    path: Path, spec: Any, jobs: list[Any], results: list[dict[str, Any]], inputs: list[dict[str, Any]], sets: list[Any]
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    key, levels = spec.level_key, list(jobs[0].levels)
    train = [v for v in levels if v in jobs[0].seen_levels] if spec.level_names else list(jobs[0].train_levels)
    unseen = [v for v in levels if v not in jobs[0].seen_levels]
    # named levels (hybrid) are categories: plotted at 0, 1, 2, ... in their order, named on the axis
    xs = {v: float(i) for i, v in enumerate(levels)} if spec.level_names else {v: v for v in levels}
    methods = list(dict.fromkeys(r["method"] for r in results))
    fig, axes = plt.subplots(1, len(sets), figsize=(max(6.5, 4.2 * len(sets)), 3.8), squeeze=False)
    for ax, (dataset, _, _) in zip(axes[0], sets):
        pad = 0.3 if spec.level_names else 0.0
        if train:
            ax.axvspan(
                min(xs.get(v, v) for v in train) - pad,
                max(xs.get(v, v) for v in train) + pad,
                color="tab:green",
                alpha=0.12,
                label="seen levels",
            )
        if unseen:
            ax.axvspan(
                min(xs[v] for v in unseen) - pad,
                max(xs[v] for v in unseen) + pad,
                color="tab:red",
                alpha=0.08,
                label="unseen levels",
            )
        # the levels this set is scored at (a paired real set's own inputs only exist on it; DND: none)
        lv = [v for v in levels if any(r["dataset"] == dataset and r[key] == v for r in inputs)]
        noisy = [_mean([r["psnr"] for r in inputs if r["dataset"] == dataset and r[key] == v]) for v in lv]
        ax.plot(
            [xs[v] for v in lv],
            noisy,
            ":",
            color="grey",
            label="noisy input" if spec.kind == "awgn" else "degraded input",
        )
        for m in methods:
            per = [
                [r["psnr"] for r in results if r["method"] == m and r["dataset"] == dataset and r[key] == v] for v in lv
            ]
            if not all(per):
                continue
            mean = [_mean(p) for p in per]
            err = [[mu - min(p) for mu, p in zip(mean, per)], [max(p) - mu for mu, p in zip(mean, per)]]
            is_erm = m == erm_label(m)
            ax.errorbar(
                [xs[v] for v in lv],
                mean,
                yerr=err,
                marker="o",
                ms=3,
                capsize=2,
                lw=2.0 if is_erm else 1.2,
                ls="--" if is_erm else "-",
                label=m,
            )
        if spec.level_names:
            ax.set_xticks([xs[v] for v in levels], [spec.level_label(v) for v in levels])
        ax.set_title(dataset)
        ax.set_xlabel(spec.figure_xlabel or f"noise {key}")
        ax.set_ylabel("PSNR (dB)")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"{spec.title}\nPSNR against {key}, seen and unseen levels shaded", fontsize=10)
    fig.tight_layout()
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.replace(tmp, path)


def write_all(
    out: Path,
    spec: Any,
    profile: Any,
    jobs: list[Any],
    records: list[dict[str, Any]],
    inputs_raw: list[dict[str, Any]],
    sets: list[Any],
    absent: list[str],
    total_s: float,
    device: torch.device,
    argv: list[str] | None,
    all_records: list[dict[str, Any]] | None = None,
    lr_choice: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Path]:
    """``results.json``, ``<table>.md`` and ``<figure>.png`` in ``out``; returns their paths.

    ``records``: the runs the table shows (the chosen lr of each method); ``all_records``: every
    run, grid points included (kept in results.json); ``lr_choice``: :func:`runner.select_lr`'s."""
    key = spec.level_key
    train_levels = set(jobs[0].seen_levels)
    results = [
        {
            "method": r["method"],
            "dataset": row["dataset"],
            key: row["level"],
            "psnr": row["psnr"],
            "ssim": row["ssim"],
            "seed": r["seed"],
            "seen": row["level"] in train_levels,
            "step": r["steps"],
            "ge": r["ge"],
            "psnr_per_image": row["psnr_per_image"],
            "ssim_per_image": row["ssim_per_image"],
        }
        for r in records
        for row in r["final"]
    ]
    inputs = [
        {"dataset": row["dataset"], key: row["level"], "psnr": row["psnr"], "ssim": row["ssim"]} for row in inputs_raw
    ]
    history = [
        {
            "method": r["method"],
            "seed": r["seed"],
            "step": e["step"],
            "ge": e["ge"],
            "dataset": row["dataset"],
            key: row["level"],
            "psnr": row["psnr"],
            "ssim": row["ssim"],
        }
        for r in records
        for e in r["history"]
        for row in e["rows"]
    ]
    methods = list(dict.fromkeys(r["method"] for r in records))
    unseen = {v for v in jobs[0].levels if v not in train_levels}
    paths = {"results": out / "results.json", "table": out / f"{spec.name}.md", "figure": out / f"{spec.figure}.png"}
    write_json(
        paths["results"],
        {
            "table": spec.name,
            "title": spec.title,
            "command": _command(argv),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "profile": asdict(profile),
            "methods": methods,
            "seeds": sorted({r["seed"] for r in records}),
            "levels": list(jobs[0].levels),
            "train_levels": list(jobs[0].train_levels),
            "seen_levels": list(jobs[0].seen_levels),
            "channel": spec.channel,
            "level_names": {f"{v:g}": n for v, n in spec.level_names.items()},
            "test_sets": [{"name": n, **{k: v for k, v in info.items() if k != "degraded"}} for n, _, info in sets],
            "absent_test_sets": absent,
            "versions": versions(device),
            "wall_time_s": total_s,
            "compute": profile.compute,
            "runs": [{k: v for k, v in r.items() if k not in ("history", "final")} for r in records],
            "lr_selection": lr_choice or {},
            "grid_runs": [
                {k: v for k, v in r.items() if k not in ("history", "final")} for r in all_records or records
            ],
            "summary_unseen": summarise(results, key, methods, unseen),
            "results": results,
            "noisy_input": inputs,
            "history": history,
            "paper": [
                {"method": m, "dataset": d, key: v, "psnr": e[0], "ssim": e[1], "gain": e[2]}
                for (d, v), row in spec.paper.items()
                for m, e in row.items()
            ],
            "paper_labels": dict(spec.paper_labels),
            "notes": list(spec.notes),
        },
    )
    write_table(
        paths["table"], spec, profile, jobs, records, results, inputs, sets, absent, total_s, device, argv, lr_choice
    )
    write_figure(paths["figure"], spec, jobs, results, inputs, sets)
    return paths
