"""act_bench.grid.sweep with a fake backend: points and their run folders, execution-only fields
reusing the trained model, resuming, the results table and report, and bad --param input.
(test_sweep_real.py runs a tiny real sweep through a local pool, Ray and kill -9.)"""
import json
import re

import pandas as pd
import pytest

from act_bench import cli
from act_bench.errors import ActBenchError
from act_bench.grid import sweep
from act_bench.grid.plan import Grid
from act_bench.grid.sweep_params import parse_param, parse_params, split_values
from act_bench.report.sweep_results import value_axis

from fakes import SweepBackend


def _sweep(tmp_path, backend, params, **kw):
    opts = dict(methods=("act", "act-no-te"), tasks=("transfer_cube",), seeds=(0, 1), profile="ci", episodes=3,
                out=tmp_path / "out", demos_root=tmp_path / "demos", runs_root=tmp_path / "runs", videos=1, demos=3)
    opts.update(kw)
    return sweep.run_sweep(Grid(**opts), parse_params(params, opts.get("overrides", ())), backend, progress=False)


def _kinds(backend):
    calls = backend.calls()
    return {k: [c for c in calls if c["kind"] == k] for k in ("demos", "train", "eval")}


def test_training_points_get_their_own_runs_and_the_base_value_reuses_the_base_run(tmp_path):
    backend = SweepBackend(tmp_path / "calls.log")
    result = _sweep(tmp_path, backend, ["model.chunk_size=10,20"])  # 20 is the ci profile's chunk size
    assert result["failures"] == []
    k = _kinds(backend)
    assert len(k["demos"]) == 1 and len(k["train"]) == 2 * 2 and len(k["eval"]) == 2 * 2 * 2
    assert sorted(c["overrides"] or [] for c in k["train"]) == [[], [], ["model.chunk_size=10"]] + [
        ["model.chunk_size=10"]]
    runs = tmp_path / "runs" / "transfer_cube" / "act"
    assert sorted(p.name for p in runs.iterdir()) == ["ci", "ci+model.chunk_size=10"]
    assert {c["run_dir"] for c in k["eval"]} == {str(runs / f / f"seed{s}") for f in ("ci", "ci+model.chunk_size=10")
                                                for s in (0, 1)}
    out = tmp_path / "out"
    df = pd.read_csv(out / "results.csv")
    assert list(df.columns[:4]) == ["task", "method", "model.chunk_size", "seed"]
    assert len(df) == 2 * 2 * 2 * 4 and sorted(set(df["model.chunk_size"])) == [10, 20]
    assert set(df["point"]) == {"model.chunk_size=10", "model.chunk_size=20"}
    for name in ("summary.md", "sweep.png", "loss_curves.png", "report.html", "sweep.json",
                 "points/model.chunk_size=10/evals/transfer_cube/act-no-te/seed1/summary.json",
                 "training/transfer_cube/act+model.chunk_size=10/seed0/metrics.csv"):
        assert (out / name).exists(), name
    summary = (out / "summary.md").read_text()
    assert "# act-bench sweep: model.chunk_size" in summary and "| act-no-te | 10 |" in summary
    assert "act-bench sweep report" in (out / "report.html").read_text()
    # a rerun finds everything done: no new calls, the same table
    _sweep(tmp_path, backend, ["model.chunk_size=10,20"])
    assert len(backend.calls()) == 1 + 4 + 8
    pd.testing.assert_frame_equal(pd.read_csv(out / "results.csv"), df)
    # `act-bench report` rebuilds a sweep folder's own report
    (out / "report.html").unlink()
    assert cli.main(["report", str(out)]) == 0 and (out / "report.html").exists()


def test_an_execution_only_sweep_trains_nothing_beyond_the_base_run(tmp_path):
    backend = SweepBackend(tmp_path / "calls.log")
    _sweep(tmp_path, backend, ["eval.n_action_steps=1,2"], methods=("act-no-te",), out=tmp_path / "a")
    k = _kinds(backend)
    assert len(k["train"]) == 2 and len(k["eval"]) == 2 * 2  # the base run per seed, once for both points
    for n in (1, 2):
        s = json.loads((tmp_path / f"a/points/eval.n_action_steps={n}/evals/transfer_cube/act-no-te/seed0/"
                        "summary.json").read_text())
        assert s["n_action_steps"] == n and s["mean_queries"] > 0
    q = [json.loads((tmp_path / f"a/points/eval.n_action_steps={n}/evals/transfer_cube/act-no-te/seed0/"
                     "summary.json").read_text())["mean_queries"] for n in (1, 2)]
    assert q[0] > q[1]  # one action per query asks the policy more often
    # a second execution-only sweep of the same models: evaluations only
    _sweep(tmp_path, backend, ["eval.temporal_ensemble_m=0.1,1"], methods=("act",), out=tmp_path / "b")
    k = _kinds(backend)
    assert len(k["train"]) == 2 and len(k["eval"]) == 4 + 4
    df = pd.read_csv(tmp_path / "b/results.csv")
    assert sorted(set(df["eval.temporal_ensemble_m"])) == [0.1, 1.0]


def test_a_product_trains_once_per_training_value(tmp_path):
    backend = SweepBackend(tmp_path / "calls.log")
    _sweep(tmp_path, backend, ["model.chunk_size=10,20", "eval.temporal_ensemble_m=0.01,0.1"], methods=("act",),
           seeds=(0,), jobs=2)
    k = _kinds(backend)
    assert len(k["train"]) == 2 and len(k["eval"]) == 4
    df = pd.read_csv(tmp_path / "out/results.csv")
    assert df.groupby(["model.chunk_size", "eval.temporal_ensemble_m"]).ngroups == 4
    assert sorted(p.name for p in (tmp_path / "out/points").iterdir()) == [
        "model.chunk_size=10+eval.temporal_ensemble_m=0.01", "model.chunk_size=10+eval.temporal_ensemble_m=0.1",
        "model.chunk_size=20+eval.temporal_ensemble_m=0.01", "model.chunk_size=20+eval.temporal_ensemble_m=0.1"]
    # the same folder with another fixed eval setting would take the old evaluations as done: refused
    with pytest.raises(ActBenchError, match="holds a sweep evaluated with --set .no eval fields., not "
                                            "eval.n_action_steps=2"):
        _sweep(tmp_path, backend, ["model.chunk_size=10,20"], methods=("act",), seeds=(0,),
               overrides=("eval.n_action_steps=2",))
    _sweep(tmp_path, backend, ["model.chunk_size=10,20"], methods=("act",), seeds=(0,),
           overrides=("eval.episodes=3",))  # more or fewer episodes: allowed; the folder gains points
    assert len(_kinds(backend)["train"]) == 2 and (tmp_path / "out/points/model.chunk_size=10").is_dir()


def test_a_failed_training_skips_its_point_and_a_rerun_completes_it(tmp_path):
    broken = SweepBackend(tmp_path / "calls.log", fail_train=["transfer_cube/act/1"])
    result = _sweep(tmp_path, broken, ["eval.temporal_ensemble_m=0.01,0.1"], methods=("act",))
    assert sum("skipped (training failed)" in f for f in result["failures"]) == 2
    fixed = SweepBackend(tmp_path / "calls2.log")
    assert _sweep(tmp_path, fixed, ["eval.temporal_ensemble_m=0.01,0.1"], methods=("act",))["failures"] == []
    k = _kinds(fixed)
    assert [c["seed"] for c in k["train"]] == [1] and len(k["eval"]) == 2
    assert len(pd.read_csv(tmp_path / "out/results.csv")) == 2 * 2 * 4


def test_param_parsing():
    p = parse_param("model.chunk_size=1, 10,50,100")
    assert p.key == "model.chunk_size" and p.texts == ("1", "10", "50", "100") and not p.execution_only
    assert parse_param("eval.temporal_ensemble_m=0.001,1").execution_only
    assert split_values("[48,64],[96,128]") == ["[48,64]", "[96,128]"]
    assert parse_param("data.image_size=[48,64],[96,128]").labels() == ["48x64", "96x128"]
    assert parse_param("model.backbone=small_cnn,resnet18").labels() == ["small_cnn", "resnet18"]
    assert value_axis([1, 10, 50, 100])[1] and not value_axis([1, 7])[1] and value_axis(["a", "b"])[0] == {"a": 0.0, "b": 1.0}


@pytest.mark.parametrize("params, message", [
    ([], "name at least one field"),
    (["model.chunk_size"], "bad --param"),
    (["model.chunk_size="], "empty value list"),
    (["model.chunk_size=1,,2"], "empty value"),
    (["chunk_size=1,2"], "unknown profile field"),
    (["model.chunk_size=1,1"], "listed twice"),
    (["model.chunk_size=1", "model.chunk_size=2"], "given twice"),
    (["train.steps=1,2"], "both swept"),
    (["model.backbone=a/b"], "cannot name a folder"),
])
def test_bad_params_are_refused(params, message):
    with pytest.raises(ActBenchError, match=message):
        parse_params(params, ["train.steps=5"])


@pytest.mark.parametrize("param, message", [
    ("model.no_such_field=1,2", "unknown config key 'model.no_such_field'"),
    ("model.chunk_size=1,ten", "expected int, got 'ten'"),
    ("model.chunk_size=0,10", "model.chunk_size must be >= 1"),
    ("eval.n_action_steps=1,30", r"n_action_steps must be in \[0, model.chunk_size\]"),  # ci: chunk 20
])
def test_bad_values_stop_the_sweep_before_any_work(tmp_path, capsys, param, message):
    """Through the CLI, with the real profiles: one line, exit 2, nothing written."""
    code = cli.main(["sweep", "--param", param, "--methods", "act", "--tasks", "transfer_cube", "--profile", "ci",
                     "--out", str(tmp_path / "out"), "--runs-root", str(tmp_path / "runs"),
                     "--demos-root", str(tmp_path / "demos"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("act-bench sweep: error: ")
    assert "--param" in err[0] and not any(tmp_path.iterdir())
    assert re.search(message, err[0]), err[0]


def test_bounds_are_no_sweep_method(tmp_path, capsys):
    """A bound has no profile field to sweep: one line, exit 2, nothing written."""
    code = cli.main(["sweep", "--param", "model.chunk_size=1,10", "--methods", "act,still", "--tasks", "transfer_cube",
                     "--profile", "ci", "--out", str(tmp_path / "out"), "--runs-root", str(tmp_path / "runs"),
                     "--demos-root", str(tmp_path / "demos"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and not any(tmp_path.iterdir())
    assert "still need no training and have no profile fields to sweep" in err[0], err[0]


def test_keep_evaluated_is_refused_by_a_sweep(tmp_path, capsys):
    """Points share trainings, so keeping one point's evaluations could mix two trainings of a seed."""
    code = cli.main(["sweep", "--param", "model.chunk_size=1,10", "--methods", "act", "--tasks", "transfer_cube",
                     "--profile", "ci", "--out", str(tmp_path / "out"), "--runs-root", str(tmp_path / "runs"),
                     "--demos-root", str(tmp_path / "demos"), "--keep-evaluated", "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and not any(tmp_path.iterdir())
    assert "--keep-evaluated is for act-bench run" in err[0], err[0]


def test_sweeps_combine_with_a_mean_over_settings_and_the_papers_points(tmp_path, monkeypatch):
    """Two sweeps of the chunk size (here: one per task) as one table; the mean over the
    settings weighs each setting's mean over seeds equally; the plot gains a panel for it."""
    import sys
    from pathlib import Path

    import matplotlib.pyplot as plt

    from act_bench.report.sweep import PAPER_POINTS, final_stage, mean_over_settings

    for task in ("transfer_cube", "insertion"):
        backend = SweepBackend(tmp_path / f"{task}.log")
        _sweep(tmp_path / task, backend, ["model.chunk_size=10,20"], tasks=(task,), seeds=(0,), methods=("act-no-te",))
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "scripts"))
    import combine_sweeps

    panels = []
    monkeypatch.setattr(plt, "subplots", lambda *a, **k: panels.append(a) or _real_subplots(*a, **k))
    out = tmp_path / "all"
    assert combine_sweeps.main(["--out", str(out), str(tmp_path / "transfer_cube" / "out"),
                                str(tmp_path / "insertion" / "out")]) == 0
    assert panels == [(1, 3)]  # two settings and their mean
    results = pd.read_csv(out / "results.csv")
    agg = final_stage(results, ["model.chunk_size"])
    mean = mean_over_settings(agg, ["model.chunk_size"])
    for k in (10, 20):
        rates = agg[agg["model.chunk_size"] == k]["rate_mean"]
        assert len(rates) == 2
        row = mean[mean["model.chunk_size"] == k].iloc[0]
        assert row["rate_mean"] == pytest.approx(rates.mean()) and row["settings"] == 2
    summary = (out / "summary.md").read_text()
    assert "## Mean over settings" in summary and (out / "sweep.png").stat().st_size > 0
    # one seed per setting: the mean and IQM stand, their bootstrap intervals cannot be drawn
    assert "| mean (%) [95%] | IQM (%) [95%] | settings | runs |" in summary and "[-, -]" in summary
    assert "## Neighbouring points over training runs" in summary and (out / "cells.csv").is_file()
    assert PAPER_POINTS["model.chunk_size"][1] == {1: 0.01, 100: 0.44}
    # sweeps of different fields do not combine
    _sweep(tmp_path / "m", SweepBackend(tmp_path / "m.log"), ["eval.temporal_ensemble_m=0.01,0.1"], seeds=(0,),
           methods=("act",))
    assert combine_sweeps.main(["--out", str(tmp_path / "bad"), str(tmp_path / "insertion" / "out"),
                                str(tmp_path / "m" / "out")]) == 2
    assert not (tmp_path / "bad").exists()
    sys.modules.pop("combine_sweeps", None)


def _real_subplots(*args, **kwargs):
    import matplotlib.figure

    fig = matplotlib.figure.Figure(figsize=kwargs.get("figsize"))
    return fig, fig.subplots(*args, squeeze=kwargs.get("squeeze", True))


def test_a_sweep_on_human_like_demos_keeps_its_own_runs(tmp_path):
    """--demo-style human: the base value reuses the human-like base run, not the scripted one."""
    backend = SweepBackend(tmp_path / "calls.log")
    result = _sweep(tmp_path, backend, ["model.chunk_size=10,20"], seeds=(0,), methods=("act",), demo_style="human")
    assert result["failures"] == []
    runs = tmp_path / "runs" / "transfer_cube" / "act"
    assert sorted(p.name for p in runs.iterdir()) == ["ci+model.chunk_size=10-human", "ci-human"]
    assert [p.name for p in (tmp_path / "demos").iterdir()] == ["transfer_cube_24x32_top_human"]


def test_n_action_steps_zero_is_drawn_last_as_the_chunk():
    """n_action_steps 0 means the whole chunk: it is placed after 1 and 10 and named, not drawn
    at x = 0 before them; other numeric fields keep their numeric (or log) axis."""
    from act_bench.report.sweep_results import tick_label, value_axis

    xs, log = value_axis([0, 1, 10], "eval.n_action_steps")
    assert not log and xs == {1: 0.0, 10: 1.0, 0: 2.0}
    assert [tick_label(v, "eval.n_action_steps") for v in (1, 10, 0)] == ["1", "10", "k (chunk)"]
    xs, log = value_axis([1, 10, 50, 100], "model.chunk_size")
    assert log and xs == {1: 1.0, 10: 10.0, 50: 50.0, 100: 100.0}
    assert tick_label(0, "eval.temporal_ensemble_m") == "0"


def test_sweep_passes_every_run_option_on(tmp_path, monkeypatch):
    """Through the CLI: `sweep` builds the same Grid as `run` from the same options (it once
    dropped --demo-style, so a human-like sweep trained and evaluated on scripted demos)."""
    from act_bench.grid import run

    grids = {}
    monkeypatch.setattr(run, "run_benchmark", lambda grid, progress: grids.setdefault("run", grid) and {"failures": []})
    monkeypatch.setattr(sweep, "run_sweep", lambda grid, params, progress: grids.setdefault("sweep", grid)
                        and {"failures": []})
    options = ["--methods", "act", "--tasks", "transfer_cube", "--seeds", "3,4", "--profile", "ci", "--episodes", "7",
               "--demos", "5", "--demo-seed", "2", "--demo-style", "human", "--jobs", "2", "--videos", "1",
               "--videos-per-cell", "2", "--set", "train.lr=0.001", "--runs-root", str(tmp_path / "runs"),
               "--demos-root", str(tmp_path / "demos"), "--out", str(tmp_path / "out"), "--no-progress"]
    assert cli.main(["run", *options]) == 0
    assert cli.main(["sweep", "--param", "model.chunk_size=10,20", *options]) == 0
    assert grids["sweep"] == grids["run"] and grids["sweep"].demo_style == "human"
