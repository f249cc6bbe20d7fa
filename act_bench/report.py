"""Tables, plots and a self-contained report.html from a results folder: `act-bench report DIR`.

DIR/results.csv holds one row per task x method x seed x stage. Loss curves come from the
training metrics copied to DIR/training/{task}/{policy}/seed{S}/metrics.csv, and videos from
DIR/evals/{task}/{method}/seed{S}/videos/. Images and videos are embedded in report.html as
base64 data URIs, so the page still works when it is moved or mailed on its own.
"""
from __future__ import annotations

import argparse
import base64
import html
import math
from pathlib import Path

import pandas as pd

from act_bench import failed_cells, layout
from act_bench.atomic_io import write_csv, write_text
from act_bench.errors import ActBenchError
from act_bench.cell_tables import CAPTION, DISPERSION_NOTE, cells_of, dispersion_lines, summary_tables

COLUMNS = ["task", "method", "seed", "stage_index", "stage_name", "successes", "episodes", "rate",
           "ci_low", "ci_high"]
# which demos, thread count and CPU produced each row (absent from results.csv of older runs)
CELLS = "cells.csv"  # one row per cell and stage: seed_stats.cell_statistics
PROVENANCE = ["demos", "demo_style", "demo_episodes", "demo_hash", "train_threads", "train_cpu", "eval_threads",
              "eval_cpu"]
# read as text: a hex digest such as "06e140908627" is otherwise parsed as a float (inf)
TEXT_COLUMNS = {"demo_hash": str, "demos": str, "demo_style": str, "train_cpu": str, "eval_cpu": str}
PROVENANCE_NOTE = ("Each policy's demonstrations (folder, style: scripted or human-like, episodes used, hash "
                   "of their content hashes; "
                   "'recomputed': a run that predates the record, hashed from its folder's manifest later), "
                   "and the torch thread count and CPU of its training and evaluation: float results "
                   "depend on both (README, What reproduces where).")
# ---------------------------------------------------------------- data
def collect_results(out_dir) -> pd.DataFrame:
    """Rows of results.csv from every evals/{task}/{method}/seed{S}/summary.json under out_dir."""
    rows = []
    for path in layout.eval_summaries(out_dir):
        s = layout.read_json_record(path)
        prov = _provenance_row(s)
        for st in s["stages"]:
            rows.append({"task": s["task"], "method": s["method"], "seed": int(s["seed"]),
                         **{k: st[k] for k in COLUMNS[3:]}, **prov})
    return _ordered(failed_cells.merge(pd.DataFrame(rows, columns=COLUMNS + PROVENANCE), out_dir))


def _provenance_row(summary: dict) -> dict:
    from act_bench.data.provenance import short
    from act_bench.scripted.style import settings_style

    trained, evaluated = summary.get("trained_on") or {}, summary.get("evaluated_on") or {}
    demos = trained.get("demos") or {}
    digest = short(demos.get("content_hash")) if demos else None
    if digest and demos.get("hash_source"):
        digest += " (recomputed)"
    style = settings_style(demos["settings"]) if demos.get("settings") else None
    return {"demos": Path(demos["dir"]).name if demos.get("dir") else None, "demo_style": style,
            "demo_episodes": demos.get("episodes"),
            "demo_hash": digest, "train_threads": trained.get("threads"), "train_cpu": trained.get("cpu"),
            "eval_threads": evaluated.get("threads"), "eval_cpu": evaluated.get("cpu")}


def provenance_table(results: pd.DataFrame) -> pd.DataFrame | None:
    """One row per task, method and seed: which demos and machine; None for older results."""
    results = failed_cells.evaluated(results)
    cols = [c for c in PROVENANCE if c in results.columns]
    if not cols or results[cols].isna().all().all():
        return None
    # one row per cell, or more where a sweep's points of one cell differ (trained elsewhere)
    table = results.drop_duplicates(["task", "method", "seed", *cols])[["task", "method", "seed", *cols]]
    return table.astype(object).where(table.notna(), "-").reset_index(drop=True)


def order_key(order, name: str) -> tuple[int, str]:
    """Registered names in registration order, then unknown ones by name."""
    return (order.index(name) if name in order else len(order), name)


def task_order() -> list[str]:
    from act_bench.tasks.registry import task_names

    return list(task_names())


def method_order() -> list[str]:
    from act_bench.policies.registry import method_names

    return list(method_names())


def _ordered(df: pd.DataFrame) -> pd.DataFrame:
    """Tasks and methods in their usual order (then by name), seeds and stages ascending."""
    tasks, methods = task_order(), method_order()
    df = df.assign(_t=df["task"].map(lambda t: order_key(tasks, t)),
                   _m=df["method"].map(lambda m: order_key(methods, m)))
    return (df.sort_values(["_t", "_m", "seed", "stage_index"], kind="stable")
            .drop(columns=["_t", "_m"]).reset_index(drop=True))


def read_results_csv(path) -> pd.DataFrame:
    """A results.csv as written, its text columns kept as text; checked (table_checks.py)."""
    from act_bench.evaluation.table_checks import read_results

    return read_results(path)


def load_results(out_dir) -> pd.DataFrame:
    path = Path(out_dir) / layout.RESULTS
    if not path.exists():
        raise ActBenchError(f"no results.csv in {out_dir}")
    df = read_results_csv(path)
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ActBenchError(f"{path} lacks columns {', '.join(missing)}")
    return _ordered(df)


def _pct(x: float) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}"


def _seeds_phrase(results: pd.DataFrame) -> str:
    n = sorted(results.groupby(["task", "method"])["seed"].nunique().unique())
    return "1 seed" if n == [1] else f"{'/'.join(map(str, n))} training seeds"


def _md_table(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def summary_markdown(results: pd.DataFrame) -> str:
    parts = ["# act-bench results", "", CAPTION.format(seeds=_seeds_phrase(results)),
             "`episodes` is the pooled number of evaluation episodes.", "", DISPERSION_NOTE, ""]
    notes = dispersion_lines(results)
    for task, table in summary_tables(results).items():
        parts += [f"## {task}", "", _md_table(table), ""] + ([notes[task], ""] if task in notes else [])
    parts += failed_cells.markdown_section(results)
    prov = provenance_table(results)
    if prov is not None:
        parts += ["## Demonstrations and machines", "", PROVENANCE_NOTE, "", _md_table(prov), ""]
    return "\n".join(parts)


def find_videos(out_dir, per_cell: int = 1) -> list[tuple[str, str, str, Path]]:
    """The first `per_cell` videos of the lowest seed of every (task, method)."""
    found = {}
    for task, method, seed, p in layout.results_videos(out_dir):
        found.setdefault((task, method), {}).setdefault(seed, []).append(p)
    out = []
    tasks, methods = task_order(), method_order()
    for (task, method) in sorted(found, key=lambda k: (order_key(tasks, k[0]), order_key(methods, k[1]))):
        by_seed = found[(task, method)]
        seed = min(by_seed, key=lambda s: int(s[4:]) if s[4:].isdigit() else 0)
        out += [(task, method, seed, p) for p in by_seed[seed][:per_cell]]
    return out


# ---------------------------------------------------------------- html
def _data_uri(path: Path, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def _html_table(df: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                   for row in df.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_CSS = """body{font-family:system-ui,sans-serif;margin:24px;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:right}
th{background:#f2f2f2}td:first-child{text-align:left}img{max-width:100%}.videos{display:flex;flex-wrap:wrap;gap:12px}
figure{margin:0}figcaption{font-size:12px;color:#555}.caption{font-size:13px;color:#444}"""


def _history_rows(history: list[dict]) -> list[dict]:
    """The history table: the last entry is the invocation writing this report (still running);
    an earlier one never marked finished was interrupted and not resumed with the same settings."""
    return [{**{k: v for k, v in h.items() if k != "finished"},
             **({"interrupted": "yes"} if h.get("finished") is False and i < len(history) - 1 else {})}
            for i, h in enumerate(history)]


def render_html(results, tables, images: dict[str, Path], videos, meta: dict | None = None,
                command: str = "run", notes: dict[str, str] | None = None, sections: list[tuple[str, str, pd.DataFrame]] = ()) -> str:
    """command: which act-bench command wrote the folder ("run", or "sweep": sweep_report.py);
    notes: a line under each table (its dispersion); sections: (title, caption, table) after them."""
    title = "act-bench report" if command == "run" else f"act-bench {command} report"
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>",
             f"<style>{_CSS}</style></head><body><h1>{title}</h1>"]
    if meta:
        from act_bench.report_header import header_items

        items = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in header_items(meta))
        parts.append(f"<p class='caption'>The last <code>act-bench {command}</code> into this folder:</p><ul class='caption'>{items}</ul>")
        if len(meta.get("history", [])) > 1:
            rows = pd.DataFrame(_history_rows(meta["history"]))
            parts.append(f"<details><summary>Runs that wrote into this folder</summary>{_html_table(rows)}</details>")
    parts.append(f"<h2>Success rates</h2><p class='caption'>{html.escape(CAPTION.format(seeds=_seeds_phrase(results)))}"
                 f" {html.escape(DISPERSION_NOTE)}</p>")
    notes = dispersion_lines(results) if notes is None else notes
    for task, table in tables.items():
        parts.append(f"<h3>{html.escape(task)}</h3>{_html_table(table)}")
        if task in notes:
            parts.append(f"<p class='caption'>{html.escape(notes[task])}</p>")
    for title, caption, table in sections:
        parts.append(f"<h2>{html.escape(title)}</h2><p class='caption'>{html.escape(caption)}</p>{_html_table(table)}")
    parts.append(failed_cells.html_section(results))
    prov = provenance_table(results)
    if prov is not None:
        parts.append(f"<h2>Demonstrations and machines</h2><p class='caption'>{html.escape(PROVENANCE_NOTE)}</p>"
                     f"{_html_table(prov)}")
    for title, path in images.items():
        parts.append(f"<h2>{html.escape(title)}</h2><img alt='{html.escape(title)}' src='{_data_uri(path, 'image/png')}'>")
    if videos:
        parts.append("<h2>Evaluation videos</h2><p class='caption'>Filmed from the angled camera, not the "
                     "camera the policy saw, with the stage reached in the banner.</p><div class='videos'>")
        for task, method, seed, p in videos:
            cap = f"{task} / {method} / {seed} / {p.stem}"
            parts.append(f"<figure><video controls muted loop autoplay playsinline preload='auto' width='320' "
                         f"src='{_data_uri(p, 'video/mp4')}'></video><figcaption>{html.escape(cap)}</figcaption></figure>")
        parts.append("</div>")
    per_seed = results.assign(rate=results["rate"].map(_pct), ci_low=results["ci_low"].map(_pct),
                              ci_high=results["ci_high"].map(_pct))
    parts.append(f"<details><summary>Per-seed results (results.csv)</summary>{_html_table(per_seed)}</details>")
    parts.append("</body></html>")
    return "\n".join(parts)


def build_report(out_dir, videos_per_cell: int = 1) -> dict[str, Path]:
    """Write cells.csv, summary.md, success.png, loss_curves.png and report.html into out_dir."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise ActBenchError(f"results folder not found: {out_dir}")
    if (out_dir / layout.SWEEP_RECORD).exists():  # an `act-bench sweep` folder: its own tables and plot
        from act_bench.sweep_report import build_sweep_report

        return build_sweep_report(out_dir, videos_per_cell)
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
    from act_bench.plots import find_loss_curves, plot_loss_curves, plot_success

    images = {}
    success = plot_success(results, out_dir / layout.SUCCESS_PLOT)
    if success is not None:  # None: every cell failed
        images["Success per stage"] = written["success_plot"] = success
    loss = plot_loss_curves(find_loss_curves(out_dir), out_dir / layout.LOSS_PLOT)
    if loss is not None:
        images["Training loss (per trained policy: act-no-te evaluates act's model)"] = written["loss_plot"] = loss
    page = render_html(results, summary_tables(results), images, find_videos(out_dir, videos_per_cell), meta)
    written["html"] = write_text(out_dir / layout.REPORT_HTML, page)
    return written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", help="results folder holding results.csv (e.g. results/run)")
    parser.add_argument("--videos-per-cell", type=int, default=1,
                        help="videos embedded per task and method (keeps report.html small)")


def main(args) -> int:
    written = build_report(args.dir, args.videos_per_cell)
    print(Path(written["summary"]).read_text())
    print(f"report: {written['html']}")
    return 0
