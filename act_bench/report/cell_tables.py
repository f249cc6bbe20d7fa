"""The tables of a report, per cell: the seeds' rates, their mean with a 95% interval that
includes training noise, the between-training SD, the seeds that would place the mean within
+-5 points and the evaluation-only Wilson interval (statistics: evaluation/seed_stats.py)."""
from __future__ import annotations

import math

import pandas as pd

from act_bench.evaluation.seed_stats import MIN_T_SEEDS, cell_statistics, dispersion_by_pool, seed_rate_list
from act_bench.report import failed_cells
from act_bench.tasks.registry import success_stage

CAPTION = ("Success rate (%) of each stage: the mean over {seeds}; in brackets a 95% interval that includes "
           "training noise, of the kind in column `interval`: `t`, the t interval over the seeds' rates (from "
           f"{MIN_T_SEEDS} seeds on); `quasi-binomial`, the Wilson interval of the pooled episodes at their "
           "effective size N / phi, phi the dispersion pooled over the table's cells at that stage (listed below "
           "each table); `none` (no brackets): one seed and nothing to pool with, training noise unmeasured. A stage counts as "
           "reached if the episode's best stage was at least that stage. For the final stage: each seed's rate, "
           "`SD` the between-training SD (points), `seeds for ±5` the seeds that would place the mean within "
           "±5 points, and the 95% Wilson interval of the pooled episodes, which measures evaluation noise only "
           "(docs/statistics.md).")
DISPERSION_NOTE = ("phi: Pearson's X^2 of each cell's seeds against the cell's pooled rate, summed over the cells "
                   "and divided by its degrees of freedom (seeds - 1 per cell; cells at 0% or 100% carry none); "
                   "about 1 when seeds differ only by evaluation noise. p: X^2's homogeneity p-value.")


def _pct(x: float) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}"


def _points(x: float) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}"


def cell_extra(results: pd.DataFrame, fields=()) -> list[str]:
    """Columns beyond task and method that tell cells apart: a sweep's fields, and the
    demonstrations where one task was trained on several folders (data styles)."""
    # the bounds (scripted, still) train on no demonstrations: their blank folder is not another one
    several = "demos" in results.columns and (results.groupby("task")["demos"].nunique() > 1).any()
    return [*(["demos"] if several else []), *fields]


def cells_of(results: pd.DataFrame, fields=()) -> pd.DataFrame:
    """seed_stats.cell_statistics of the evaluated rows (failed cells left out)."""
    return cell_statistics(failed_cells.evaluated(results), cell_extra(results, fields))


def cell_table(cells: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """One row per cell (keys: the method, a sweep's fields), one column per stage ("mean
    [low, high]" in %), then the final stage's per-seed rates, SD, seeds for +-5 points,
    interval kind and evaluation-only Wilson interval. The final stage is the success stage: the
    last one, or (tasks with a strict stage after success) the one before it."""
    index = cells.drop_duplicates("stage_index").sort_values("stage_index")
    stages = index["stage_name"].tolist()
    success = success_stage(str(cells["task"].iloc[0]), int(index["stage_index"].max())) if "task" in cells else len(stages)
    final = index.loc[index["stage_index"] == success, "stage_name"].iloc[0]
    rows = []
    for key, g in cells.groupby(keys, sort=False, dropna=False):
        g = g.sort_values("stage_index")
        row = {k: "-" if pd.isna(v) else v for k, v in zip(keys, key if isinstance(key, tuple) else (key,))}
        for r in g.itertuples():  # no brackets where training noise is unmeasured (one seed)
            row[r.stage_name] = _pct(r.rate_mean) + ("" if pd.isna(r.ci_low) else f" [{_pct(r.ci_low)}, {_pct(r.ci_high)}]")
        last = g[g["stage_index"] == success].iloc[0]
        row[f"{final} per seed"] = " / ".join(f"{100 * r:.0f}" for r in seed_rate_list(last))
        row["SD"] = _points(last["sd"])
        # with training noise unmeasured, evaluation noise alone gives a lower bound
        seeds = ">1000" if pd.isna(last["seeds_for_5"]) else int(last["seeds_for_5"])
        row["seeds for ±5"] = f">= {seeds}" if last["interval"] == "none" else seeds
        row["interval"] = last["interval"]
        row["Wilson (evaluation only)"] = f"[{_pct(last['wilson_low'])}, {_pct(last['wilson_high'])}]"
        row["seeds"], row["episodes"] = int(last["seeds"]), int(last["episodes"])
        rows.append(row)
    return pd.DataFrame(rows, columns=[*keys, *stages, f"{final} per seed", "SD", "seeds for ±5", "interval",
                                       "Wilson (evaluation only)", "seeds", "episodes"])


def dispersion_line(results: pd.DataFrame, extra: list[str]) -> str:
    """The pooled dispersion per stage of one table's rows, as one line."""
    pools = dispersion_by_pool(results, ["task", "method", *extra, "stage_index", "stage_name"])
    if "demos" in pools and pools["demos"].notna().any():  # the bounds' pool (no demos) has no training noise
        pools = pools[pools["demos"].notna()]
    by_demos = "demos" in pools and pools["demos"].nunique() > 1  # one pool per stage and demo folder
    names = results.drop_duplicates("stage_index").set_index("stage_index")["stage_name"]
    parts = []
    for r in pools.sort_values("stage_index", kind="stable").itertuples():
        what = (f"{r.dispersion:.2f} ({r.dispersion_df} df over {r.dispersion_cells} cells, p = {r.homogeneity_p:.2g})"
                if r.dispersion_df else "- (no cell varies)")
        parts.append(f"{names[r.stage_index]}{f' ({r.demos})' if by_demos else ''} {what}")
    return "Dispersion phi by stage: " + "; ".join(parts) + "."


def summary_tables(results: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per task: one row per method (cell_table). Failed cells show as "failed" (failed_cells.py)."""
    every, results = results, failed_cells.evaluated(results)
    cells = cells_of(results)
    extra = cell_extra(results)
    tables = {task: cell_table(g, ["method", *extra]) for task, g in cells.groupby("task", sort=False)}
    return failed_cells.mark_tables(tables, every)


def dispersion_lines(results: pd.DataFrame) -> dict[str, str]:
    """Per task: the dispersion line under its table."""
    results = failed_cells.evaluated(results)
    extra = cell_extra(results)
    return {task: dispersion_line(g, extra) for task, g in results.groupby("task", sort=False)}
