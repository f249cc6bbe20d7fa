"""Tables, plots and a report.html from a results folder: `act-bench report DIR`.

DIR/results.csv holds one row per task x method x seed x stage. Loss curves come from the
training metrics copied to DIR/training/{task}/{policy}/seed{S}/metrics.csv, and videos from
DIR/evals/{task}/{method}/seed{S}/videos/ (results.py reads the rows, page.py renders
the page).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from act_bench.errors import ActBenchError
from act_bench.report import costs
from act_bench.report.cell_tables import cells_of, summary_tables
from act_bench.report.page import Media, render_html
from act_bench.report.plots import find_loss_curves, plot_loss_curves, plot_success
from act_bench.report.results import CELLS, collect_results, find_videos, load_results, summary_markdown
from act_bench.report.sweep import build_sweep_report
from act_bench.storage import layout
from act_bench.storage.atomic_io import write_csv, write_text


def build_report(out_dir, videos_per_cell: int = 1, link_media: bool = False) -> dict[str, Path]:
    """Write cells.csv, summary.md, success.png, loss_curves.png and report.html into out_dir;
    link_media: report.html links the folder's plots and videos instead of embedding them."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise ActBenchError(f"results folder not found: {out_dir}")
    if (out_dir / layout.SWEEP_RECORD).exists():  # an `act-bench sweep` folder: its own tables and plot
        return build_sweep_report(out_dir, videos_per_cell, link_media)
    meta = layout.read_json_record(out_dir / layout.RUN_RECORD)  # damaged: refused before anything is written
    if (out_dir / layout.RESULTS).exists():
        results = load_results(out_dir)
    else:  # a run interrupted before it wrote results.csv: rebuild it from the evaluations
        results = collect_results(out_dir)
        if results.empty:
            raise ActBenchError(f"no results.csv and no evaluations in {out_dir}")
        write_csv(out_dir / layout.RESULTS, results)
    if results.empty:
        raise ActBenchError(f"{out_dir / layout.RESULTS} has no rows")
    written = {"cells": write_csv(out_dir / CELLS, cells_of(results)),
               "summary": write_text(out_dir / layout.SUMMARY_MD, summary_markdown(results))}
    images = {}
    success = plot_success(results, out_dir / layout.SUCCESS_PLOT)
    if success is not None:  # None: every cell failed
        images["Success per stage"] = written["success_plot"] = success
    loss = plot_loss_curves(find_loss_curves(out_dir), out_dir / layout.LOSS_PLOT)
    if loss is not None:
        images["Training loss (per trained policy: act-no-te evaluates act's model)"] = written["loss_plot"] = loss
    cost = costs.cost_table(out_dir, results)
    sections = [] if cost is None else [(costs.TITLE, costs.CAPTION, cost)]
    media = Media(images, find_videos(out_dir, videos_per_cell), out_dir if link_media else None)
    page = render_html(results, summary_tables(results), media, meta, sections=sections)
    written["html"] = write_text(out_dir / layout.REPORT_HTML, page)
    return written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", help="results folder holding results.csv (e.g. results/run)")
    parser.add_argument("--videos-per-cell", type=int, default=1,
                        help="videos embedded per task and method (keeps report.html small)")
    parser.add_argument("--link-media", action="store_true",
                        help="link the folder's plots and videos by relative path instead of embedding them: "
                             "a page ~10x smaller that works only beside its folder (as committed under results/)")


def main(args) -> int:
    written = build_report(args.dir, args.videos_per_cell, args.link_media)
    print(Path(written["summary"]).read_text())
    print(f"report: {written['html']}")
    return 0
