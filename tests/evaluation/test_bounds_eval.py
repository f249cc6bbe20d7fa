"""The bounds scored through the evaluator on real tasks: the scripted expert reaches every
stage of every start (the harness can score 100%), the still arms reach none; and `act-bench
eval --method BOUND` with its one-line errors."""
import json

import pandas as pd
import pytest

from act_bench.evaluation.evaluate import EvalSpec
from act_bench.evaluation.setup import evaluate_bound
from act_bench.runtime.seeding import eval_seed

from cli_helpers import cli_here


def _evaluate(task, method, episodes, out):
    summary = evaluate_bound(EvalSpec(task, method, 0, episodes, out, videos=0), progress=False)
    return summary, pd.read_csv(out / "episodes.csv")


@pytest.mark.parametrize("task", ["transfer_cube_v3", "insertion_v3"])
def test_scripted_scores_every_stage_and_still_none(task, tmp_path):
    summary, episodes = _evaluate(task, "scripted", 3, tmp_path / "scripted")
    assert summary["success_rate"] == 1.0 and [s["rate"] for s in summary["stages"]] == [1.0] * len(summary["stages"])
    assert (summary["kind"], summary["policy_id"]) == ("upper bound", "bound scripted (no training)")
    assert episodes["seed"].tolist() == [eval_seed(0, i) for i in range(3)]  # the learned methods' starts
    summary, episodes = _evaluate(task, "still", 2, tmp_path / "still")
    assert summary["success_rate"] == 0.0 and (episodes["max_stage"] == 0).all() and summary["kind"] == "lower bound"
    summary, _ = _evaluate(task, "random", 2, tmp_path / "random")
    assert summary["success_rate"] == 0.0


def test_eval_cli_scores_a_bound_and_refuses_what_does_not_apply(tmp_path):
    code, err = cli_here(["eval", "--method", "still", "--task", "insertion_v3", "--out", tmp_path / "still",
                          "--episodes", "1", "--videos", "0", "--no-progress"], tmp_path)
    assert code == 0, err
    assert json.loads((tmp_path / "still" / "summary.json").read_text())["kind"] == "lower bound"
    for args, message in [
            (["--method", "still", "--out", "x"], "needs --task and --out"),
            (["--method", "scripted", "--task", "insertion_v3", "--out", "x", "--run", "runs/x"], "is a bound"),
            (["--method", "scripted", "--task", "insertion_v3", "--out", "x", "--n-action-steps", "5"], "do not apply"),
            (["--task", "insertion_v3", "--out", "x"], "eval needs --run RUN, --policy MODULE:FACTORY or a bound"),
            (["--policy", "scripted", "--task", "insertion_v3", "--out", "x"], "evaluated with --method scripted"),
    ]:
        code, err = cli_here(["eval", *args], tmp_path)
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and message in lines[0], err


def test_run_of_bounds_alone_trains_nothing_and_a_bad_name_is_one_line(tmp_path):
    args = ["run", "--tasks", "transfer_cube_v3", "--seeds", "0", "--episodes", "1", "--videos", "0",
            "--out", tmp_path / "out", "--runs-root", tmp_path / "runs", "--demos-root", tmp_path / "demos",
            "--no-progress"]
    code, err = cli_here([*args, "--methods", "scripted,still"], tmp_path)
    assert code == 0, err
    assert not (tmp_path / "runs").exists() and not (tmp_path / "demos").exists()
    results = pd.read_csv(tmp_path / "out" / "results.csv")
    final = results[results["stage_name"] == "transfer"].set_index("method")["rate"]
    assert final.to_dict() == {"scripted": 1.0, "still": 0.0}
    code, err = cli_here([*args, "--methods", "scripted,stil"], tmp_path)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "unknown method 'stil'; choose from" in lines[0], err
