"""Success rates per stage with 95% Wilson score intervals.

Wilson rather than the normal approximation because rates near 0 or 1 with 50 episodes
are common here, where the normal interval collapses to zero width or leaves [0, 1].
"""
from __future__ import annotations

import math
from typing import Sequence

Z95 = 1.959964  # two-sided 95% normal quantile


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval (no continuity correction) for `successes` out of `n`.

    With n = 0 nothing is known and the interval is [0, 1].
    """
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    # Clamp the rounding error at the ends so 0/n gives exactly 0 and n/n exactly 1.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


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


def aggregate_over_seeds(results):
    """Collapse per-seed rows of results.csv to one row per (task, method, stage).

    rate_mean is the mean of the per-seed rates; the interval is the Wilson interval of the
    episodes pooled over seeds (seed-to-seed variation is visible in rate_min/rate_max).
    """
    import pandas as pd

    keys = ["task", "method", "stage_index", "stage_name"]
    rows = []
    for key, group in results.groupby(keys, sort=False):
        k, n = int(group["successes"].sum()), int(group["episodes"].sum())
        low, high = wilson_interval(k, n)
        rows.append(dict(zip(keys, key), seeds=int(group["seed"].nunique()), successes=k, episodes=n,
                         rate_mean=float(group["rate"].mean()), rate_min=float(group["rate"].min()),
                         rate_max=float(group["rate"].max()), pooled_rate=k / n if n else float("nan"),
                         ci_low=low, ci_high=high))
    return pd.DataFrame(rows, columns=keys + ["seeds", "successes", "episodes", "rate_mean", "rate_min",
                                              "rate_max", "pooled_rate", "ci_low", "ci_high"])
