"""scripts/ci_false_alarm.py: the rate at which the CI job fails a correct build, and what it catches."""
import json

import numpy as np
import pandas as pd
import pytest

from cli_helpers import load_script


@pytest.fixture(scope="module")
def false_alarm():
    return load_script("ci_false_alarm")


def test_training_spread_takes_the_episode_noise_out(false_alarm):
    rates = np.array([0.9, 0.86, 0.92, 0.88, 0.9, 0.86])
    mean, sd = false_alarm.training_spread(rates, 50)
    assert mean == pytest.approx(rates.mean())
    assert sd < rates.std(ddof=1)  # the binomial share of 50 episodes removed
    _, none = false_alarm.training_spread(np.array([0.5, 0.5, 0.5]), 50)
    assert none < 0.01  # nothing left: floored, never negative


def test_a_correct_build_fails_rarely_and_a_broken_one_often(false_alarm):
    rates = [0.6, 0.7, 0.5, 0.65, 0.55, 0.62]
    out = false_alarm.failure_rates(rates, 50, 0.01, draws=4000)
    fresh, committed = out[0.0]
    assert fresh < 0.04 and committed < 0.04
    assert out[0.5][0] > 0.9  # a 50-point drop is caught nearly always
    assert all(out[a][0] <= out[b][0] for a, b in zip(false_alarm.DROPS, false_alarm.DROPS[1:]))


def test_main_prints_the_rates_of_a_reference(tmp_path, false_alarm, capsys):
    (tmp_path / "results" / "ci").mkdir(parents=True)
    rows = [{"task": "transfer_cube_v3", "method": "act-no-te", "seed": s, "stage_index": 4, "stage_name": "transfer",
             "successes": k, "episodes": 50, "rate": k / 50} for s, k in enumerate([45, 43, 46, 44])]
    pd.DataFrame(rows).to_csv(tmp_path / "table.csv", index=False)
    policy = {"task": "transfer_cube_v3", "method": "act-no-te", "episodes": 50, "reference_seeds": [0, 1, 2, 3],
              "reference_results": "table.csv"}
    ref = tmp_path / "results" / "ci" / "reference.json"
    ref.write_text(json.dumps({"alpha": 0.01, "policy": policy}))
    assert false_alarm.main(["--reference", str(ref), "--draws", "2000"]) == 0
    out = capsys.readouterr().out
    assert "4 trainings" in out and "correct:" in out and "50 points worse" in out
    policy.pop("reference_seeds")
    ref.write_text(json.dumps({"alpha": 0.01, "policy": policy}))
    with pytest.raises(SystemExit, match="no reference_seeds"):
        false_alarm.main(["--reference", str(ref)])
    with pytest.raises(SystemExit, match="unreadable reference file"):
        false_alarm.main(["--reference", str(tmp_path / "missing.json")])
    with pytest.raises(SystemExit):
        false_alarm.main(["--reference", str(ref), "--draws", "0"])
    assert "--draws must be at least 1" in capsys.readouterr().err
