"""The CI regression job: its statistics, and one tiny end-to-end run of its plumbing."""
import json

import pandas as pd
import pytest

from act_bench.grid.regression import binomial_cdf, main, regressed


def test_binomial_cdf_known_values():
    assert binomial_cdf(0, 10, 0.5) == pytest.approx(1 / 1024)
    assert binomial_cdf(10, 10, 0.3) == pytest.approx(1.0)
    assert binomial_cdf(2, 10, 0.5) == pytest.approx((1 + 10 + 45) / 1024)


def test_regressed_only_when_significantly_below():
    assert regressed(18, 50, 0.36, 0.01)[0] is False  # the reference itself
    assert regressed(12, 50, 0.36, 0.01)[0] is False  # within noise
    assert regressed(5, 50, 0.36, 0.01)[0] is True
    assert regressed(0, 10, 0.0, 0.01)[0] is False


def _reference(tmp_path, successes, episodes=2):
    results = tmp_path / "results.csv"
    pd.DataFrame([{"task": "transfer_cube", "method": "act-no-te", "seed": 0, "stage_index": 4,
                   "stage_name": "transfer", "successes": successes, "episodes": episodes,
                   "rate": successes / episodes, "ci_low": 0, "ci_high": 1}]).to_csv(results, index=False)
    ref = {"alpha": 0.01, "scripted": {"episodes": 2, "min_success": {"transfer_cube": 0.95, "insertion": 0.95}},
           "policy": {"task": "transfer_cube", "method": "act-no-te", "profile": "ci", "seed": 0, "demos": 2,
                      "episodes": episodes, "overrides": ["train.steps=20"], "reference_results": "results.csv"}}
    path = tmp_path / "reference.json"
    path.write_text(json.dumps(ref))
    return path


@pytest.mark.slow
def test_end_to_end_pass_then_fail(tmp_path, capsys):
    # A 20-step tiny ACT succeeds on none of 2 episodes: fine against a 0/2 reference ...
    ref = _reference(tmp_path, successes=0)
    assert main(["--out", str(tmp_path / "ci"), "--reference", str(ref), "--base", str(tmp_path)]) == 0
    assert "scripted transfer_cube: 100.0%" in capsys.readouterr().out
    # ... and a regression against a 2/2 reference (the second run reuses the trained model).
    ref = _reference(tmp_path, successes=2)
    assert main(["--out", str(tmp_path / "ci"), "--reference", str(ref), "--base", str(tmp_path)]) == 1
    assert "significantly below" in capsys.readouterr().err


def test_reference_is_found_or_asked_for(tmp_path, monkeypatch):
    from act_bench.grid import regression

    monkeypatch.chdir(tmp_path)  # no results/ here: the source checkout's reference is used
    assert regression.default_reference() == regression._CHECKOUT / regression.REFERENCE
    monkeypatch.setattr(regression, "_CHECKOUT", tmp_path / "wheel")  # as installed: none anywhere
    assert regression.default_reference() is None
    with pytest.raises(SystemExit, match="pass --reference PATH"):
        main(["--out", str(tmp_path / "ci")])
    ref = _reference(tmp_path, successes=0)
    with pytest.raises(SystemExit, match="reference results table is missing"):
        regression.reference_success(json.loads(ref.read_text())["policy"], tmp_path / "elsewhere")


def test_the_committed_reference_holds_the_current_tasks():
    """results/ci/reference.json names a cell of a committed table, on a registered task, with
    the trainings its seed-level rule reads, and a scripted floor for every built-in task."""
    from act_bench.grid import regression
    from act_bench.tasks.registry import task_names

    ref = json.loads((regression._CHECKOUT / regression.REFERENCE).read_text())
    k, n = regression.reference_success(ref["policy"], regression._CHECKOUT)
    assert n == ref["policy"]["episodes"] and 0 < k <= n
    assert ref["policy"]["task"] in task_names()
    assert len(regression.reference_seed_rates(ref["policy"], regression._CHECKOUT)) >= 5
    assert set(task_names()) <= set(ref["scripted"]["min_success"])


def test_the_ci_cell_trains_as_its_reference_cell_did():
    """The committed cell's settings (its evaluation summary: chunk size, steps trained) are
    what the CI job trains with, whatever the profile says today: the pinned overrides keep it so."""
    from act_bench.grid import regression
    from act_bench.policies.config import load_profile
    from act_bench.policies.registry import get_method

    ref = json.loads((regression._CHECKOUT / regression.REFERENCE).read_text())["policy"]
    table = regression._CHECKOUT / ref["reference_results"]
    summary = json.loads((table.parent / "evals" / ref["task"] / ref["method"] / f"seed{ref['seed']}"
                          / "summary.json").read_text())
    prof = load_profile(get_method(ref["method"]).policy, ref["profile"], ref["overrides"])
    assert prof.model.chunk_size == summary["chunk_size"]
    assert summary["policy_id"].startswith(f"step {prof.train.steps} ")


def test_prediction_bound_fails_a_correct_build_at_rate_alpha():
    """Trainings whose rates are normal around 0.6 with SD 0.15: a new one falls below the
    bound of ten others about alpha of the time (the bound's whole point), and rarely at 1%."""
    import numpy as np

    from act_bench.evaluation.intervals import prediction_lower_bound

    rng = np.random.default_rng(0)
    draws = rng.normal(0.6, 0.15, size=(20000, 11))
    bounds = prediction_lower_bound(draws[:, :10], 0.05)  # one bound per row
    assert bounds[7] == pytest.approx(prediction_lower_bound(draws[7, :10], 0.05))
    assert abs(np.mean(draws[:, 10] < bounds) - 0.05) < 0.006
    assert np.isnan(prediction_lower_bound([0.5], 0.01))
    assert prediction_lower_bound([0.4, 0.4, 0.4], 0.01) == pytest.approx(0.4)  # no spread: the rate itself


def test_seed_level_rule_reads_the_reference_trainings(tmp_path):
    from act_bench.grid.regression import cell_judge

    rows = [{"task": "transfer_cube", "method": "act-no-te", "seed": s, "stage_index": 4, "stage_name": "transfer",
             "successes": k, "episodes": 50, "rate": k / 50, "ci_low": 0, "ci_high": 1}
            for s, k in enumerate([30, 35, 25, 40, 28])]
    pd.DataFrame(rows).to_csv(tmp_path / "results.csv", index=False)
    policy = {"task": "transfer_cube", "method": "act-no-te", "profile": "ci", "seed": 0,
              "reference_results": "results.csv", "reference_seeds": [0, 1, 2, 3, 4]}
    judge = cell_judge(policy, 0.01, tmp_path)
    line, failure = judge(20, 50)  # 40%: inside the trainings' spread (50-80%, SD 11 points)
    assert failure is None and "prediction bound" in line and line.endswith("ok")
    line, failure = judge(5, 50)
    assert "REGRESSED" in line and "below the reference trainings" in failure
    with pytest.raises(SystemExit, match="no transfer_cube/act-no-te/seed7 row"):
        cell_judge({**policy, "reference_seeds": [0, 7]}, 0.01, tmp_path)


@pytest.mark.slow
def test_train_reference_makes_the_table_the_seed_level_rule_reads(tmp_path, capsys):
    """--train-reference trains the cell's reference_seeds by the job's own recipe; the job then
    holds a new training to them (and reuses seed 0's run from the same working folder)."""
    ref = json.loads(_reference(tmp_path, successes=0).read_text())
    ref["policy"].update(reference_seeds=[0, 1], reference_results="ci-ref/results.csv")
    path = tmp_path / "reference.json"
    path.write_text(json.dumps(ref))
    work = ["--out", str(tmp_path / "ci"), "--reference", str(path), "--base", str(tmp_path)]
    assert main([*work, "--train-reference", str(tmp_path / "ci-ref")]) == 0
    table = pd.read_csv(tmp_path / "ci-ref" / "results.csv")
    assert sorted(set(table.seed)) == [0, 1] and set(table.method) == {"act-no-te"}
    assert main(work) == 0
    assert "the reference's 2 trainings" in capsys.readouterr().out
    ref["policy"].pop("reference_seeds")
    path.write_text(json.dumps(ref))
    with pytest.raises(SystemExit, match="lists no reference_seeds"):
        main([*work, "--train-reference", str(tmp_path / "ci-ref")])
