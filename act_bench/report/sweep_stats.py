"""The statistics of a sweep's report beyond each cell's: the mean and IQM over settings with
stratified bootstrap intervals (evaluation/aggregates.py), and each point against the previous
value of the first swept field, the training run as the unit (compare.py)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from act_bench.evaluation.aggregates import aggregate
from act_bench.evaluation.seed_stats import seed_rate_list
from act_bench.report.cell_tables import cells_of
from act_bench.report.compare import Side, compare_rows
from act_bench.report.failed_cells import evaluated
from act_bench.report.sweep_results import line_label, value_axis  # the plot's order of values and line names
from act_bench.tasks.registry import success_stage

MEAN_NOTE = ("The final stage's success (%) per method and point over the settings (task x data style) above: "
             "the mean of the settings' means over seeds (each setting weighted equally) and the interquartile "
             "mean (IQM) of all training runs' rates, each with a 95% stratified bootstrap interval (seeds "
             "resampled within each setting; with 3 seeds per setting these are somewhat too narrow).")
EFFECTS_NOTE = ("Each point against the previous value of {field}, per method: B - A in points of the final stage "
                "with its 95% t interval, the training run as the unit (paired over seeds where both points share "
                "seeds and evaluation starts, as a sweep's points do; docs/statistics.md). `p (t)`: the t test; "
                "`p (perm.)`: the exact sign-flip or label permutation test, which cannot go below "
                "`least p` with these many runs. A row per setting, then the settings' mean.")


def final_stage(results: pd.DataFrame, fields: list[str]) -> pd.DataFrame:
    """One row per task, data style (where a task has several), method and point: the final
    stage's mean rate over seeds, its 95% interval with training noise (seed_stats.py) and the
    per-seed rates."""
    cells = cells_of(results, fields)
    last = cells.groupby("task")["stage_index"].transform("max")
    success = [success_stage(t, m) for t, m in zip(cells["task"], last)]
    cells = cells[cells["stage_index"] == success]
    return cells.assign(seed_rates=[seed_rate_list(r) for _, r in cells.iterrows()]).reset_index(drop=True)


def mean_over_settings(agg: pd.DataFrame, fields: list[str]) -> pd.DataFrame:
    """Per method and point (rows of final_stage): the mean over settings of the final stage's
    mean rate with its stratified bootstrap interval, the IQM of all runs with its interval, and
    the number of settings averaged."""
    rows = []
    for key, g in agg.groupby(["method", *fields], sort=False):
        mean, low, high = aggregate(list(g["seed_rates"]), "mean")
        q, q_low, q_high = aggregate(list(g["seed_rates"]), "iqm")
        rows.append({**dict(zip(["method", *fields], key)), "rate_mean": mean, "mean_low": low, "mean_high": high,
                     "iqm": q, "iqm_low": q_low, "iqm_high": q_high, "settings": len(g),
                     "runs": int(g["seeds"].sum())})
    return pd.DataFrame(rows)


def _interval(value, low, high) -> str:
    def pct(x):
        return "-" if pd.isna(x) else f"{100 * x:.1f}"
    return f"{pct(value)} [{pct(low)}, {pct(high)}]"


def mean_table(results: pd.DataFrame, fields: list[str]) -> pd.DataFrame:
    mean = mean_over_settings(final_stage(results, fields), fields)
    return pd.DataFrame({"method": mean["method"], **{f: mean[f] for f in fields},
                         "mean (%) [95%]": [_interval(r.rate_mean, r.mean_low, r.mean_high) for r in mean.itertuples()],
                         "IQM (%) [95%]": [_interval(r.iqm, r.iqm_low, r.iqm_high) for r in mean.itertuples()],
                         "settings": mean["settings"], "runs": mean["runs"]})


def neighbour_effects(results: pd.DataFrame, fields: list[str], folder=None) -> pd.DataFrame:
    """Each value of the first field against the previous one, per method (and other fields'
    values): compare.compare_rows per setting and over all settings."""
    results = evaluated(results)
    x_field, others = fields[0], fields[1:]
    xs, _ = value_axis(list(dict.fromkeys(results.sort_values(x_field)[x_field])), x_field)
    order = sorted(xs, key=xs.get)
    rows = []
    for line, g in results.groupby(["method", *others], sort=False):
        line = line if isinstance(line, tuple) else (line,)
        for a, b in zip(order, order[1:]):
            ga, gb = g[g[x_field] == a], g[g[x_field] == b]
            if ga.empty or gb.empty:
                continue
            where = Path(folder) if folder is not None else Path(".")
            for c in compare_rows(Side("A", where, ga, line[0]), Side("B", where, gb, line[0])):
                e = c.effect
                rows.append({"method": line_label(line, others), x_field: f"{a} -> {b}", "setting": c.label,
                             "B - A (points) [95%]": "-" if e is None else
                             f"{100 * e.effect:+.1f} [{100 * e.low:+.1f}, {100 * e.high:+.1f}]",
                             "p (t)": "-" if e is None or pd.isna(e.p_t) else f"{e.p_t:.2g}",
                             "p (perm.)": "-" if e is None else f"{e.p_perm:.2g}",
                             "least p": "-" if e is None else f"{e.perm_min:.2g}",
                             "design": "-" if e is None else f"{e.design}, {e.runs} runs"})
    return pd.DataFrame(rows)
