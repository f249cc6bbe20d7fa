"""Per cell (task, method, sweep point, stage): the seeds' rates, their mean and SD, and a 95%
interval that includes training noise, with the dispersion it borrows from comparable cells.

Which interval is reported (column `interval`):
- "t": the t interval over the seeds' rates, from MIN_T_SEEDS seeds on (and a nonzero SD);
- "quasi-binomial": below that, where t(0.975, 2) = 4.30 makes the t interval uninformative,
  the Wilson interval of the pooled episodes at the effective size N / phi, phi the Pearson
  dispersion pooled over the comparable cells (same task, demonstrations and stage in this
  table: every method and sweep point), on phi's degrees of freedom;
- "none": one seed and no other cell to pool with: training noise is unmeasured.
The pooled Wilson interval (wilson_low/high) stays, as evaluation noise only.

seeds_for_5: the seeds that would place the cell's mean within +-5 points, planned with the
larger of the cell's own SD and the SD the pooled dispersion implies at its rate (an SD from 3
seeds is itself uncertain by a factor of about 2).
"""
from __future__ import annotations

import math

import pandas as pd
from scipy import stats

from act_bench.evaluation.intervals import (pearson_chi2, quasi_binomial_interval, seeds_for_margin, t_interval,
                                            wilson_interval)

MIN_T_SEEDS = 5
MARGIN = 0.05
CELL = ["task", "method", "stage_index", "stage_name"]

COLUMNS = ["seeds", "successes", "episodes", "seed_rates", "rate_mean", "sd", "t_low", "t_high", "dispersion",
           "dispersion_df", "qb_low", "qb_high", "interval", "ci_low", "ci_high", "wilson_low", "wilson_high",
           "seeds_for_5"]


def pool_keys(results: pd.DataFrame) -> list[str]:
    """Cells pool their dispersion within one task, stage and demonstration folder."""
    return ["task", *(["demos"] if "demos" in results.columns else []), "stage_index"]


def _pool_ids(results: pd.DataFrame) -> pd.Series:
    return results.groupby(pool_keys(results), sort=False, dropna=False).ngroup()


def dispersion_by_pool(results: pd.DataFrame, cell: list[str] = CELL) -> pd.DataFrame:
    """Per pool: phi (pooled Pearson X^2 / df), its df, the cells that carried information and
    the homogeneity p-value (X^2 against chi^2(df): a small p says seeds differ beyond binomial)."""
    keys = pool_keys(results)
    rows = []
    for key, g in results.groupby(keys, sort=False, dropna=False):
        chi2 = df = cells = 0
        for _, c in g.groupby(cell, sort=False, dropna=False):
            x, d = pearson_chi2(c["successes"], c["episodes"])
            chi2, df, cells = chi2 + x, df + d, cells + bool(d)
        rows.append({**dict(zip(keys, key)), "dispersion": chi2 / df if df else math.nan, "dispersion_df": df,
                     "dispersion_cells": cells, "chi2": chi2,
                     "homogeneity_p": float(stats.chi2.sf(chi2, df)) if df else math.nan})
    return pd.DataFrame(rows, columns=[*keys, "dispersion", "dispersion_df", "dispersion_cells", "chi2",
                                       "homogeneity_p"])


def cell_statistics(results: pd.DataFrame, extra: list[str] = ()) -> pd.DataFrame:
    """One row per cell and stage from per-seed rows (results.csv's columns); `extra`: columns
    that also tell cells apart (a sweep's fields and point, the demonstrations)."""
    cell = [*CELL[:2], *extra, *CELL[2:]]
    results = results.assign(_pool=_pool_ids(results))
    pools = dispersion_by_pool(results, cell)  # in the order of the pool ids
    rows = []
    for key, g in results.groupby(cell, sort=False, dropna=False):
        g = g.sort_values("seed")
        rates, k, n = g["rate"].to_numpy(float), int(g["successes"].sum()), int(g["episodes"].sum())
        pool = pools.iloc[int(g["_pool"].iloc[0])]
        phi, df = float(pool["dispersion"]), int(pool["dispersion_df"])
        sd = float(rates.std(ddof=1)) if len(rates) > 1 else math.nan
        t_low, t_high = t_interval(rates)
        qb_low, qb_high = quasi_binomial_interval(k, n, phi, df)
        if len(rates) >= MIN_T_SEEDS and sd > 0:
            kind, low, high = "t", t_low, t_high
        elif df:
            kind, low, high = "quasi-binomial", qb_low, qb_high
        else:
            kind, low, high = "none", math.nan, math.nan
        w_low, w_high = wilson_interval(k, n)
        rate = k / n if n else math.nan
        # the SD of one seed's rate that the pooled dispersion implies (binomial where unmeasured)
        implied = math.sqrt((max(phi, 1.0) if df else 1.0) * rate * (1 - rate) / (n / len(rates))) if n else math.nan
        plan = max(implied, sd if math.isfinite(sd) else 0.0)
        rows.append({**dict(zip(cell, key)), "seeds": len(rates), "successes": k, "episodes": n,
                     "seed_rates": " ".join(f"{r:.4g}" for r in rates), "rate_mean": float(rates.mean()),
                     "sd": sd, "t_low": t_low, "t_high": t_high, "dispersion": phi, "dispersion_df": df,
                     "qb_low": qb_low, "qb_high": qb_high, "interval": kind, "ci_low": low, "ci_high": high,
                     "wilson_low": w_low, "wilson_high": w_high, "seeds_for_5": seeds_for_margin(plan, MARGIN)})
    return pd.DataFrame(rows, columns=[*cell, *COLUMNS])


def seed_rate_list(row) -> list[float]:
    """A cell row's per-seed rates back as floats."""
    return [float(v) for v in str(row["seed_rates"]).split()]
