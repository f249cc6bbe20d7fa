"""Intervals for success rates: Wilson for one evaluation's episodes, and the intervals that
treat the training run as the unit (a t interval over seeds, a quasi-binomial interval).

Wilson rather than the normal approximation because rates near 0 or 1 with 50 episodes
are common here, where the normal interval collapses to zero width or leaves [0, 1]. A Wilson
interval measures evaluation noise only: two trainings of one recipe differ far more than two
sets of 50 episodes (docs/statistics.md), so a statement about a setting needs the others.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy import stats

Z95 = 1.959964  # two-sided 95% normal quantile


def wilson_bounds(rate: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a rate seen over n (not necessarily whole) trials."""
    if n <= 0:
        return 0.0, 1.0
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (rate + z2 / (2 * n)) / denom
    half = z * math.sqrt(rate * (1 - rate) / n + z2 / (4 * n * n)) / denom
    # Clamp the rounding error at the ends so 0/n gives exactly 0 and n/n exactly 1.
    low = 0.0 if rate <= 0 else max(0.0, centre - half)
    high = 1.0 if rate >= 1 else min(1.0, centre + half)
    return low, high


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval (no continuity correction) for `successes` out of `n`.

    With n = 0 nothing is known and the interval is [0, 1].
    """
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")
    return wilson_bounds(successes / n if n else 0.0, n, z)


def stage_rates(max_stages: Sequence[int], stage_names: Sequence[str]) -> list[dict]:
    """One row per stage (1-based): how many episodes reached at least that stage."""
    n = len(max_stages)
    rows = []
    for index, name in enumerate(stage_names, start=1):
        k = sum(1 for s in max_stages if int(s) >= index)
        low, high = wilson_interval(k, n)
        rows.append({
            "stage_index": index, "stage_name": name, "successes": k, "episodes": n,
            "rate": k / n if n else float("nan"), "ci_low": low, "ci_high": high,
        })
    return rows


def t_quantile(df: float, level: float = 0.95) -> float:
    return float(stats.t.ppf(0.5 + level / 2, df))


def t_interval(rates: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """mean +- t(df = n - 1) * SD / sqrt(n) over the seeds' rates, clipped to [0, 1]; NaN with
    fewer than 2 seeds. Any spread between trainings is in it, but few seeds make it wide."""
    x = np.asarray(rates, dtype=float)
    if len(x) < 2:
        return math.nan, math.nan
    half = t_quantile(len(x) - 1, level) * x.std(ddof=1) / math.sqrt(len(x))
    return max(0.0, x.mean() - half), min(1.0, x.mean() + half)


def prediction_lower_bound(rates: Sequence[float], alpha: float) -> float:
    """The one-sided (1 - alpha) lower prediction bound for one more seed's rate, from the seeds'
    rates: mean - t(1 - alpha, n - 1) * SD * sqrt(1 + 1/n). A new training of the same recipe
    falls below it with probability alpha (seed rates taken as normal); NaN with fewer than 2.
    A 2-D array gives one bound per row (reference sets of the same size)."""
    x = np.asarray(rates, dtype=float)
    n = x.shape[-1]
    if n < 2:
        return math.nan
    bound = x.mean(-1) - stats.t.ppf(1 - alpha, n - 1) * x.std(-1, ddof=1) * math.sqrt(1 + 1 / n)
    return float(bound) if x.ndim == 1 else bound


def pearson_chi2(successes: Sequence[int], episodes: Sequence[int]) -> tuple[float, int]:
    """Pearson's X^2 of one cell's seeds against a common rate, and its degrees of freedom
    (seeds - 1). A cell at 0 or 1 everywhere carries no information on dispersion: (0, 0)."""
    k, n = np.asarray(successes, dtype=float), np.asarray(episodes, dtype=float)
    p = k.sum() / n.sum() if n.sum() else math.nan
    if len(k) < 2 or not 0 < p < 1:
        return 0.0, 0
    return float(((k - n * p) ** 2 / (n * p * (1 - p))).sum()), len(k) - 1


def quasi_binomial_interval(successes: int, episodes: int, dispersion: float, df: int,
                            level: float = 0.95) -> tuple[float, float]:
    """The Wilson interval of the pooled episodes at the effective size episodes / dispersion,
    with the t quantile on the dispersion's degrees of freedom. The dispersion is floored at 1:
    fewer than binomial episodes' worth of noise is not credited. NaN without an estimate."""
    if not df or not math.isfinite(dispersion) or episodes <= 0:
        return math.nan, math.nan
    return wilson_bounds(successes / episodes, episodes / max(dispersion, 1.0), t_quantile(df, level))


def seeds_for_margin(sd: float, margin: float = 0.05, level: float = 0.95, most: int = 1000) -> int | None:
    """The fewest seeds n (at least 2) whose t interval of the mean, t(n - 1) * sd / sqrt(n),
    is at most +-margin for a seed-to-seed SD sd; None if more than `most` would be needed."""
    if not math.isfinite(sd):
        return None
    n = np.arange(2, most + 1)
    fits = stats.t.ppf(0.5 + level / 2, n - 1) * sd / np.sqrt(n) <= margin
    return int(n[fits.argmax()]) if fits.any() else None
