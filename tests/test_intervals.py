"""Wilson intervals against published values, and per-stage / per-seed aggregation."""
import math

import pandas as pd
import pytest

from act_bench.evaluation.intervals import aggregate_over_seeds, stage_rates, wilson_interval

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


def test_aggregate_over_seeds_pools_episodes():
    df = pd.DataFrame([
        dict(task="t", method="act", seed=0, stage_index=1, stage_name="a", successes=9, episodes=10, rate=0.9),
        dict(task="t", method="act", seed=1, stage_index=1, stage_name="a", successes=5, episodes=10, rate=0.5),
    ])
    agg = aggregate_over_seeds(df)
    row = agg.iloc[0]
    assert row.seeds == 2 and row.successes == 14 and row.episodes == 20
    assert row.rate_mean == pytest.approx(0.7) and row.rate_min == 0.5 and row.rate_max == 0.9
    assert (row.ci_low, row.ci_high) == pytest.approx(wilson_interval(14, 20))
