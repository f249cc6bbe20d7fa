"""Wilson intervals against published values; the seed-level intervals, dispersion and seed
counts against cases worked by hand."""
import math

import pandas as pd
import pytest

from act_bench.evaluation.aggregates import aggregate
from act_bench.evaluation.intervals import (pearson_chi2, quasi_binomial_interval, seeds_for_margin, stage_rates,
                                            t_interval, t_quantile, wilson_bounds, wilson_interval)
from act_bench.evaluation.seed_stats import cell_statistics, dispersion_by_pool

# Newcombe (1998), Stat. Med. 17:857-872, Table I, method 3 (Wilson score, no continuity
# correction), plus the textbook 0/10, 5/10 and 45/50 cases.
KNOWN = [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0000, 0.1611),
    (1, 29, 0.0061, 0.1718),
    (29, 29, 0.8830, 1.0000),
    (0, 10, 0.0000, 0.2775),
    (5, 10, 0.2366, 0.7634),
    (45, 50, 0.7864, 0.9565),
]


@pytest.mark.parametrize("k,n,low,high", KNOWN)
def test_wilson_known_values(k, n, low, high):
    lo, hi = wilson_interval(k, n)
    assert lo == pytest.approx(low, abs=6e-5)
    assert hi == pytest.approx(high, abs=6e-5)


def test_wilson_edges_and_errors():
    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert wilson_interval(0, 50)[0] == 0.0 and wilson_interval(50, 50)[1] == 1.0
    lo, hi = wilson_interval(25, 50)
    assert math.isclose(lo + hi, 1.0)  # symmetric at p = 1/2
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_stage_rates_counts_reached_stages():
    rows = stage_rates([0, 1, 4, 2, 4], ["a", "b", "c", "d"])
    assert [r["successes"] for r in rows] == [4, 3, 2, 2]
    assert rows[0]["episodes"] == 5 and rows[0]["rate"] == pytest.approx(0.8)
    assert rows[3]["stage_name"] == "d" and rows[3]["stage_index"] == 4


def _rows(cells):
    """Per-seed final-stage rows: cells = {method: [successes per seed]} of 50 episodes each."""
    return pd.DataFrame([dict(task="t", method=m, seed=i, stage_index=1, stage_name="done", successes=k, episodes=50,
                              rate=k / 50) for m, ks in cells.items() for i, k in enumerate(ks)])


def test_t_interval_by_hand():
    # mean 0.3, SD 0.1, t(0.975, 2) = 4.302653: half-width 4.302653 * 0.1 / sqrt(3) = 0.248414
    assert t_quantile(2) == pytest.approx(4.302653, abs=1e-6)
    assert t_interval([0.2, 0.3, 0.4]) == pytest.approx((0.051586, 0.548414), abs=1e-6)
    assert t_interval([0.26, 0.66, 0.66]) == (0.0, 1.0)  # clipped to [0, 1]
    assert all(math.isnan(x) for x in t_interval([0.5]))


def test_pearson_dispersion_by_hand():
    # 10 and 20 of 50 against the pooled 0.3: expected 15, (25 + 25) / (50 * 0.3 * 0.7) = 4.7619
    assert pearson_chi2([10, 20], [50, 50]) == (pytest.approx(50 / 10.5), 1)
    assert pearson_chi2([0, 0, 0], [50, 50, 50]) == (0.0, 0)  # a cell at 0% says nothing on dispersion
    assert pearson_chi2([7], [50]) == (0.0, 0)
    pools = dispersion_by_pool(_rows({"a": [10, 20], "b": [25, 25], "c": [0, 0]}))
    row = pools.iloc[0]
    assert row.dispersion == pytest.approx(50 / 10.5 / 2) and row.dispersion_df == 2 and row.dispersion_cells == 2


def test_wilson_bounds_by_hand_and_quasi_binomial():
    # rate 0.3 over 25, z 1.959964: centre 0.32664, half-width 0.16935
    assert wilson_bounds(0.3, 25) == pytest.approx((0.15729, 0.49599), abs=1e-5)
    assert wilson_bounds(7 / 25, 25) == pytest.approx(wilson_interval(7, 25))
    # 28 of 100 with dispersion 4 is worth 7 of 25, on the dispersion's df
    assert quasi_binomial_interval(28, 100, 4.0, 10) == pytest.approx(wilson_interval(7, 25, z=t_quantile(10)))
    # less than binomial noise is not credited: dispersion 0.5 counts as 1
    assert quasi_binomial_interval(28, 100, 0.5, 10) == pytest.approx(wilson_interval(28, 100, z=t_quantile(10)))
    assert all(math.isnan(x) for x in quasi_binomial_interval(28, 100, math.nan, 0))


def test_seeds_for_margin_by_hand():
    # SD 7 points: 10 seeds give 2.262 * 7 / sqrt(10) = 5.008 points, 11 give 2.228 * 7 / sqrt(11) = 4.703
    assert seeds_for_margin(0.07) == 11
    assert seeds_for_margin(0.0) == 2
    assert seeds_for_margin(0.05) == 7  # 2.447 * 5 / sqrt(7) = 4.62 (6 seeds: 2.571 * 5 / sqrt(6) = 5.25)
    assert seeds_for_margin(5.0) is None


def test_cell_statistics_pick_the_interval():
    stats = cell_statistics(_rows({"a": [10, 20], "b": [25, 25], "c": [0, 0], "d": [10, 12, 14, 16, 18]}))
    a, c, d = (stats[stats.method == m].iloc[0] for m in "acd")
    # pooled over a (4.7619 on 1 df), b (0 on 1 df) and d (X^2 = 40 / (250 * 0.28 * 0.72) on 4 df)
    chi2_d = sum((k - 50 * 0.28) ** 2 for k in (10, 12, 14, 16, 18)) / (50 * 0.28 * 0.72)
    phi = (50 / 10.5 + chi2_d) / 6
    assert a.dispersion == pytest.approx(phi) and a.dispersion_df == 6
    assert a.interval == "quasi-binomial" and a.seed_rates == "0.2 0.4"
    assert (a.ci_low, a.ci_high) == pytest.approx(wilson_bounds(0.3, 100 / phi, t_quantile(6)))
    assert (a.wilson_low, a.wilson_high) == pytest.approx(wilson_interval(30, 100))  # evaluation noise only
    assert a.sd == pytest.approx(math.sqrt(0.02))
    assert d.interval == "t" and (d.ci_low, d.ci_high) == pytest.approx(t_interval([0.2, 0.24, 0.28, 0.32, 0.36]))
    # seeds for +-5: the larger of the cell's SD and the SD the dispersion implies at its rate
    assert a.seeds_for_5 == seeds_for_margin(max(math.sqrt(0.02), math.sqrt(phi * 0.3 * 0.7 / 50)))
    assert c.rate_mean == 0 and c.seeds_for_5 == 2
    one = cell_statistics(_rows({"a": [10]})).iloc[0]
    assert one.interval == "none" and math.isnan(one.ci_low) and one.seeds == 1


def test_aggregates_over_settings():
    settings = [[0.3, 0.5, 0.7], [0.24, 0.18, 0.32], [0.52, 0.62, 0.52], [0.28, 0.28, 0.44]]
    mean, low, high = aggregate(settings, "mean")
    assert mean == pytest.approx((0.5 + 0.74 / 3 + 1.66 / 3 + 1.0 / 3) / 4)
    assert low < mean < high and high - low < 0.3
    # IQM of the 12 runs: the middle six, 0.28 0.30 0.32 0.44 0.50 0.52
    iqm, low, high = aggregate(settings, "iqm")
    assert iqm == pytest.approx((0.28 + 0.30 + 0.32 + 0.44 + 0.50 + 0.52) / 6)
    assert low <= iqm <= high
    assert aggregate([[0.0, 0.0], [0.0, 0.0]]) == (0.0, 0.0, 0.0)
    assert all(math.isnan(x) for x in aggregate([[0.2], [0.4, 0.6]])[1:])
