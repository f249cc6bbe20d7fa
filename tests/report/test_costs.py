"""report/costs.py: minutes per training and evaluation from a results folder's own records."""
import json

import pandas as pd
import pytest

from act_bench.report import build as report, costs
from act_bench.storage import layout

from fakes import make_results_dir


def _rows(task, method, seeds, threads=(1, 1)):
    return [{"task": task, "method": method, "seed": s, "stage_index": 1, "episodes": 50,
             "train_threads": threads[0], "eval_threads": threads[1]} for s in seeds]


def _metrics(out, task, policy, seed, elapsed):
    path = layout.training_metrics_copy(out, task, policy, seed)
    path.parent.mkdir(parents=True)
    path.write_text("step,train_loss,elapsed_s\n" + "".join(f"{100 * i},0.5,{e}\n" for i, e in enumerate(elapsed)))


def _summary(out, task, method, seed, wall_s, timed):
    folder = layout.eval_dir(out, task, method, seed)
    folder.mkdir(parents=True)
    (folder / layout.EVAL_SUMMARY).write_text(json.dumps({"episodes": 50, "wall_s": wall_s, "timed_episodes": timed}))


def test_minutes_per_training_and_evaluation(tmp_path):
    _metrics(tmp_path, "t", "act", 0, [10, 600, 1200])  # the last elapsed_s: 20 min
    _metrics(tmp_path, "t", "act", 1, [10, 1800])  # 30 min
    _summary(tmp_path, "t", "act", 0, 300, 50)  # 5 min for 50 episodes
    _summary(tmp_path, "t", "act", 1, 240, 20)  # resumed: 20 episodes in 4 min -> 10 min for 50
    _summary(tmp_path, "t", "act-no-te", 0, 60, 0)  # an invocation that ran nothing: not timed
    _summary(tmp_path, "t", "still", 0, 120, 50)
    results = pd.DataFrame(_rows("t", "act", [0, 1]) + _rows("t", "act-no-te", [0, 1])
                           + _rows("t", "still", [0], threads=(float("nan"), 2)))
    table = costs.cost_table(tmp_path, results).set_index("method")
    assert table.loc["act", ["seeds", "train_min", "eval_min", "train_threads", "eval_threads"]].tolist() == \
        [2, "25.0", "7.5", "1", "1"]
    assert table.loc["act-no-te", "train_min"] == "25.0"  # act's model
    assert table.loc["act-no-te", "eval_min"] == ""  # neither of its evaluations was timed
    assert table.loc["still", ["train_min", "train_threads", "eval_min", "eval_threads"]].tolist() == ["", "", "2.0", "2"]


def test_nothing_recorded_gives_no_table_and_damaged_records_are_blank(tmp_path):
    results = pd.DataFrame(_rows("t", "act", [0]))
    assert costs.cost_table(tmp_path, results) is None
    path = layout.training_metrics_copy(tmp_path, "t", "act", 0)
    path.parent.mkdir(parents=True)
    path.write_text("step,train_loss\n0,1.0\n")  # an older metrics.csv without elapsed_s
    folder = layout.eval_dir(tmp_path, "t", "act", 0)
    folder.mkdir(parents=True)
    (folder / layout.EVAL_SUMMARY).write_text("{not json")
    assert costs.cost_table(tmp_path, results) is None


def test_the_report_shows_the_evaluations_it_timed(tmp_path):
    out = make_results_dir(tmp_path / "results", tasks=("transfer_cube",), methods=("act",), seeds=(0,), episodes=2)
    summary = json.loads((layout.eval_dir(out, "transfer_cube", "act", 0) / layout.EVAL_SUMMARY).read_text())
    assert summary["timed_episodes"] == 2 and summary["wall_s"] >= 0
    report.build_report(out)
    page = (out / "report.html").read_text()
    assert f"<h2>{costs.TITLE}</h2>" in page
    eval_min = float(costs.cost_table(out, pd.read_csv(out / "results.csv"))["eval_min"].iloc[0])
    assert eval_min == pytest.approx(summary["wall_s"] / 60, abs=0.06)  # both episodes timed

def test_a_failed_cell_without_episodes_is_blank_not_a_crash(tmp_path):
    _metrics(tmp_path, "t", "bc", 0, [10, 600])
    failed = _rows("t", "act", [0]) + _rows("t", "bc", [0])
    failed[0].update(episodes=float("nan"), status="failed: training failed")
    table = costs.cost_table(tmp_path, pd.DataFrame(failed)).set_index("method")
    assert table.loc["act", ["train_min", "eval_episodes"]].tolist() == ["", ""]
    assert table.loc["bc", ["train_min", "eval_episodes"]].tolist() == ["10.0", "50"]
