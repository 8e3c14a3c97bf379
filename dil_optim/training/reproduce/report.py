"""The reproduction's report (progress while it runs is :mod:`.live`): ``results.json`` and the
table in the paper's layout (ours beside the paper's); the figure is :mod:`.figure`."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from .figure import write_figure
from .provenance import command_line, now, versions, write_json
from .summary import erm_label, mean, summarise

__all__ = ["write_all", "write_table"]


def _cell(rows: list[dict[str, Any]], erm: list[dict[str, Any]] | None) -> str:
    if not rows:
        return "–"
    p, s = mean([r["psnr"] for r in rows]), mean([r["ssim"] for r in rows])
    text = f"{p:.2f}/{s:.3f}"
    if erm:
        text += f" ({p - mean([r['psnr'] for r in erm]):+.2f})"
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
        f"- Command: `{command_line(argv)}`",
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
        + ", ".join(f"{m} {mean([r['wall_time_s'] for r in records if r['method'] == m]):.0f} s" for m in methods)
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
            vals = [mean([x["psnr"] for x in e["rows"] if x["level"] in unseen]) for e in r["history"]]
            L.append(f"| {r['method']} | {r['seed']} | " + " | ".join(f"{v:.2f}" for v in vals) + " |")
    path.write_text("\n".join(L) + "\n")


def _first_seed(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seed = records[0]["seed"]
    return [r for r in records if r["seed"] == seed]


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
            "command": command_line(argv),
            "created": now(),
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
