"""A results folder's rows: results.csv read back or rebuilt from its evaluations, in the
registries' order of tasks and methods, with the demonstrations and machines behind them, and
the markdown summary every report shows."""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from act_bench.errors import ActBenchError
from act_bench.evaluation.table_checks import read_results
from act_bench.policies.registry import get_method, method_names
from act_bench.report import failed_cells
from act_bench.report.cell_tables import CAPTION, DISPERSION_NOTE, dispersion_lines, summary_tables
from act_bench.scripted.style import settings_style
from act_bench.storage import layout
from act_bench.tasks.registry import task_names

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
    return list(task_names())


def method_order() -> list[str]:
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


def percent(x: float) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}"


def seeds_phrase(results: pd.DataFrame) -> str:
    n = sorted(results.groupby(["task", "method"])["seed"].nunique().unique())
    return "1 seed" if n == [1] else f"{'/'.join(map(str, n))} training seeds"


def md_table(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def bounds_note(results: pd.DataFrame) -> str | None:
    """The line naming the table's bounds (methods that need no training), None when it has none."""
    bounds = [m for m in method_order() if m in set(results["method"]) and not get_method(m).trained]
    if not bounds:
        return None
    described = "; ".join(f"{m} ({get_method(m).kind}): {get_method(m).description}" for m in bounds)
    return (f"Bounds, trained on nothing and scored by the same evaluator on the same evaluation starts as the "
            f"learned methods: {described}.")


def summary_markdown(results: pd.DataFrame) -> str:
    bounds = bounds_note(results)
    parts = ["# act-bench results", "", CAPTION.format(seeds=seeds_phrase(results)),
             "`episodes` is the pooled number of evaluation episodes.", "", DISPERSION_NOTE, "",
             *([bounds, ""] if bounds else [])]
    notes = dispersion_lines(results)
    for task, table in summary_tables(results).items():
        parts += [f"## {task}", "", md_table(table), ""] + ([notes[task], ""] if task in notes else [])
    parts += failed_cells.markdown_section(results)
    prov = provenance_table(results)
    if prov is not None:
        parts += ["## Demonstrations and machines", "", PROVENANCE_NOTE, "", md_table(prov), ""]
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
