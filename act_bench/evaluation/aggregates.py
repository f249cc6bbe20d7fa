"""A number over several settings (the chunk sweep's mean over 2 tasks x 2 data styles) with a
95% interval over training runs: a stratified bootstrap (scipy.stats.bootstrap, percentile),
each setting's seeds resampled within the setting.

- mean: the mean over settings of each setting's mean over seeds (each setting weighted equally);
- IQM: the interquartile mean of all runs' rates together (the mean of the middle 50%; Agarwal
  et al. 2021, "Deep RL at the edge of the statistical precipice"), less swayed by one setting
  or one run far from the rest.

With 3 seeds per setting a bootstrap interval is narrower than it should be (a resample of 3
has on average 2/3 of their variance); docs/statistics.md says so beside the tables.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import stats

RESAMPLES = 10000


def mean_of_means(*samples, axis=-1):
    return np.mean([np.mean(s, axis=axis) for s in samples], axis=0)


def iqm(*samples, axis=-1):
    return stats.trim_mean(np.concatenate(samples, axis=axis), 0.25, axis=axis)


STATISTICS = {"mean": mean_of_means, "iqm": iqm}


def aggregate(settings: list, statistic: str = "mean", level: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """(value, low, high) of the statistic over the settings' per-seed rates (a list of arrays);
    the interval is NaN when a setting has fewer than 2 seeds (nothing to resample)."""
    fn = STATISTICS[statistic]
    samples = [np.asarray(s, dtype=float) for s in settings]
    value = float(fn(*samples))
    if any(len(s) < 2 for s in samples):
        return value, math.nan, math.nan
    if all(np.ptp(s) == 0 for s in samples):  # nothing varies: every resample gives the value
        return value, value, value
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a degenerate setting (all seeds equal) is expected here
        res = stats.bootstrap(samples, fn, n_resamples=RESAMPLES, confidence_level=level, method="percentile",
                              vectorized=True, rng=np.random.default_rng(seed))
    return value, float(res.confidence_interval.low), float(res.confidence_interval.high)
