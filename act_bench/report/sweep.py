"""Tables, a plot and report.html of an `act-bench sweep` folder (build.py's pieces, per point).

{out}/points/{point}/evals/... hold each point's evaluations, as a run's results folder does;
results.csv is all of them with a column per swept field (read back from the point names, so
the table is a function of the folder, like run's). sweep.png: the final stage's success (mean
over seeds, the table's 95% interval with training noise, a dot per seed) against the first
swept field, one panel per task and data style (demo folder), a line per method and other
fields' values. With more than one setting (task x data style) and a numeric field, a last panel
shows the mean over the settings with its stratified bootstrap interval, and what the paper
states for that field (PAPER_POINTS). Neighbouring points are compared over training runs
(compare.py), per setting and over all settings.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from act_bench.report.cell_tables import CAPTION, DISPERSION_NOTE, cell_extra, cell_table, cells_of, dispersion_line
from act_bench.report.page import Media, render_html
from act_bench.report.plots import find_loss_curves, plot_loss_curves, save_figure
from act_bench.report.results import CELLS, PROVENANCE_NOTE, find_videos, md_table, provenance_table, seeds_phrase
from act_bench.report.sweep_results import line_label, load_sweep, tick_label, value_axis
from act_bench.report.sweep_stats import (EFFECTS_NOTE, MEAN_NOTE, mean_table, final_stage,  # noqa: F401 (re-exported)
                                   mean_over_settings, neighbour_effects)
from act_bench.storage import layout
from act_bench.storage.atomic_io import write_csv, write_text


# The values the ACT paper states for a swept field, mean over its four simulated settings
# (2 tasks x scripted / human data): chunk size without temporal ensembling, about 1% at k = 1
# and 44% at k = 100 (the paper's text). Only these two are stated, so
# they are drawn as points, not as a curve.
PAPER_POINTS = {"model.chunk_size": ("act-no-te", {1: 0.01, 100: 0.44},
                                     "paper: ACT without ensembling, mean of its 4 settings")}


# ---------------------------------------------------------------- tables
def _panels(results: pd.DataFrame) -> list[tuple[str, str | None]]:
    """(task, demo folder) pairs; the folder only where a task has more than one (data styles)."""
    out = []
    for task, g in results.groupby("task", sort=False):
        styles = list(dict.fromkeys(g["demos"].dropna())) if "demos" in g else []
        out += [(task, s) for s in styles] if len(styles) > 1 else [(task, None)]
    return out


def _panel_rows(results: pd.DataFrame, task: str, style: str | None) -> pd.DataFrame:
    g = results[results["task"] == task]
    return g if style is None else g[g["demos"] == style]


def sweep_tables(results: pd.DataFrame, fields: list[str]) -> dict[str, pd.DataFrame]:
    """Per task (and data style): a row per method and point, the stages as in run's tables;
    the dispersion is pooled over every method and point of the panel."""
    cells = cells_of(results, fields)
    tables = {}
    for task, style in _panels(results):
        g = cells[cells["task"] == task] if style is None else cells[(cells["task"] == task) & (cells["demos"] == style)]
        tables[task if style is None else f"{task} ({style})"] = cell_table(g, ["method", *fields])
    return tables


def sweep_dispersion_lines(results: pd.DataFrame, fields: list[str]) -> dict[str, str]:
    extra = cell_extra(results, fields)
    return {(task if style is None else f"{task} ({style})"): dispersion_line(_panel_rows(results, task, style), extra)
            for task, style in _panels(results)}


def sweep_markdown(results: pd.DataFrame, fields: list[str], folder=None) -> str:
    """folder: where the points' evaluations are (to check that they share starts)."""
    parts = [f"# act-bench sweep: {', '.join(fields)}", "", CAPTION.format(seeds=seeds_phrase(results)),
             "`episodes` is the pooled number of evaluation episodes.", "", DISPERSION_NOTE, ""]
    notes = sweep_dispersion_lines(results, fields)
    for name, table in sweep_tables(results, fields).items():
        parts += [f"## {name}", "", md_table(table), "", notes[name], ""]
    for title, note, table in extra_sections(results, fields, folder):
        parts += [f"## {title}", "", note, "", md_table(table), ""]
    prov = provenance_table(results)
    if prov is not None:
        parts += ["## Demonstrations and machines", "", PROVENANCE_NOTE, "", md_table(prov), ""]
    return "\n".join(parts)


def extra_sections(results: pd.DataFrame, fields: list[str], folder=None) -> list[tuple[str, str, pd.DataFrame]]:
    """(title, note, table): the mean over settings (with several) and the neighbouring points'
    comparisons (with more than one value of the first field)."""
    out = []
    if len(_panels(results)) > 1:
        out.append(("Mean over settings", MEAN_NOTE, mean_table(results, fields)))
    effects = neighbour_effects(results, fields, folder)
    if not effects.empty:
        out.append(("Neighbouring points over training runs", EFFECTS_NOTE.format(field=fields[0]), effects))
    return out


# ---------------------------------------------------------------- plot
def _plot_mean(ax, agg: pd.DataFrame, fields: list[str], xs: dict) -> None:
    """The last panel: each line's mean over settings, and the paper's stated values."""
    x_field, others = fields[0], fields[1:]
    mean = mean_over_settings(agg, fields)
    for j, (line, gl) in enumerate(mean.groupby(["method", *others], sort=False)):
        gl = gl.sort_values(x_field, key=lambda c: c.map(xs))
        label = line_label(line, others)
        mean = 100 * gl["rate_mean"].to_numpy(float)
        err = [(mean - 100 * gl["mean_low"].to_numpy(float)).clip(min=0), (100 * gl["mean_high"].to_numpy(float) - mean).clip(min=0)]
        ax.errorbar(gl[x_field].map(xs), mean, yerr=[pd.Series(e).fillna(0).to_numpy() for e in err], marker="o",
                    capsize=3, color=f"C{j}", label=f"{label} (mean of {gl['settings'].max()}, bootstrap 95%)")
    if x_field in PAPER_POINTS:
        _, points, label = PAPER_POINTS[x_field]
        ax.plot(list(points), [100 * v for v in points.values()], "kx", ms=9, mew=2, label=label)
    ax.set_title("mean over settings", fontsize=10)


def _dodge(x, offset: float, log: bool, xs: dict):
    """Lines side by side at each value, so equal results do not hide each other's intervals."""
    if log:
        return x * 10 ** (0.015 * offset)
    span = (max(xs.values()) - min(xs.values())) or 1.0
    return x + 0.012 * span * offset


def plot_sweep(results: pd.DataFrame, fields: list[str], path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    agg, x_field, others = final_stage(results, fields), fields[0], fields[1:]
    panels = _panels(results)
    xs, log = value_axis(list(dict.fromkeys(results.sort_values(x_field)[x_field])), x_field)
    with_mean = len(panels) > 1 and pd.to_numeric(pd.Series(list(xs), dtype=object), errors="coerce").notna().all()
    n = len(panels) + bool(with_mean)
    fig, axes = plt.subplots(1, n, figsize=(5.5 * n, 3.8), squeeze=False)
    if with_mean:
        _plot_mean(axes[0][-1], agg, fields, xs)
    for ax, (task, style) in zip(axes[0], panels):
        g = agg[agg["task"] == task] if style is None else agg[(agg["task"] == task) & (agg["demos"] == style)]
        lines = list(g.groupby(["method", *others], sort=False))
        for j, (line, gl) in enumerate(lines):
            gl = gl.sort_values(x_field, key=lambda c: c.map(xs))
            x = _dodge(gl[x_field].map(xs).to_numpy(), j - (len(lines) - 1) / 2, log, xs)
            mean = 100 * gl["rate_mean"].to_numpy(float)
            err = [(mean - 100 * gl["ci_low"].to_numpy(float)), (100 * gl["ci_high"].to_numpy(float) - mean)]
            err = [pd.Series(e).fillna(0).to_numpy() for e in err]  # no bar where training noise is unmeasured
            label = line_label(line, others)
            ax.errorbar(x, mean, yerr=[e.clip(min=0) for e in err], marker="o", capsize=3, color=f"C{j}", label=label)
            for xi, rates in zip(x, gl["seed_rates"]):
                if len(rates) > 1:
                    ax.plot([xi] * len(rates), [100 * r for r in rates], ".", color=f"C{j}", alpha=0.5, ms=4)
        ax.set_title(task if style is None else f"{task} ({style})", fontsize=10)
    for ax in axes[0]:
        if log:
            ax.set_xscale("log")
        ax.set_xticks(list(xs.values()), [tick_label(v, x_field) for v in xs])
        ax.minorticks_off()
        ax.set_ylim(-3, 103)
        ax.set_xlabel(x_field)
        ax.set_ylabel("final stage reached (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("Final-stage success (mean over seeds, 95% interval with training noise: t or quasi-binomial; "
                 "dots: seeds)", fontsize=10)
    out = save_figure(fig, Path(path))
    plt.close(fig)
    return out


# ---------------------------------------------------------------- the report
def build_sweep_report(out_dir, videos_per_cell: int = 1, link_media: bool = False) -> dict[str, Path]:
    """Write results.csv, cells.csv, summary.md, sweep.png, loss_curves.png and report.html into out_dir."""
    out_dir = Path(out_dir)
    results, fields, meta = load_sweep(out_dir)
    written = {"results": write_csv(out_dir / layout.RESULTS, results),
               "cells": write_csv(out_dir / CELLS, cells_of(results, fields)),
               "summary": write_text(out_dir / layout.SUMMARY_MD, sweep_markdown(results, fields, out_dir))}
    images = {f"Final-stage success against {fields[0]}": plot_sweep(results, fields, out_dir / layout.SWEEP_PLOT)}
    written["sweep_plot"] = next(iter(images.values()))
    loss = plot_loss_curves(find_loss_curves(out_dir), out_dir / layout.LOSS_PLOT)
    if loss is not None:
        images["Training loss (policy+the point's training fields)"] = written["loss_plot"] = loss
    videos = [(task, f"{method} [{folder.name}]", seed, p) for folder in sorted(out_dir.glob(f"{layout.SWEEP_POINTS}/*/"))
              for task, method, seed, p in find_videos(folder, videos_per_cell)]
    media = Media(images, videos, out_dir if link_media else None)
    page = render_html(results, sweep_tables(results, fields), media, meta, command="sweep",
                       notes=sweep_dispersion_lines(results, fields), sections=extra_sections(results, fields, out_dir))
    written["html"] = write_text(out_dir / layout.REPORT_HTML, page)
    return written
