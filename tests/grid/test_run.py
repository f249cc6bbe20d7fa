"""act_bench.grid.run with a fake backend: the grid, sharing of trained models, skipping finished
work, resuming after a failure, the process pool, and bad input."""
import argparse
import json
import os
import shutil

import pandas as pd
import pytest

from act_bench.errors import ActBenchError
from act_bench.grid import run
from act_bench.grid.executors import make_executor
from act_bench.storage import layout

from fakes import FakeBackend


def _run(tmp_path, backend, **kw):
    opts = dict(methods=["act", "act-no-te", "bc"], tasks=["transfer_cube", "insertion"], seeds=[0, 1],
                profile="cpu", episodes=3, out=tmp_path / "out", demos_root=tmp_path / "demos",
                runs_root=tmp_path / "runs", videos=1, demos=3, progress=False, backend=backend)
    opts.update(kw)
    progress, backend = opts.pop("progress"), opts.pop("backend")
    for key in ("methods", "tasks", "seeds", "overrides"):
        if key in opts:
            opts[key] = tuple(opts[key])
    return run.run_benchmark(run.Grid(**opts), backend=backend, progress=progress)


def _kinds(backend):
    calls = backend.calls()
    return {k: [c for c in calls if c["kind"] == k] for k in ("demos", "train", "eval")}


def test_grid_shares_models_and_skips_finished_work(tmp_path, capsys):
    backend = FakeBackend(tmp_path / "calls.log")
    result = _run(tmp_path, backend)
    assert result["failures"] == []
    k = _kinds(backend)
    assert len(k["demos"]) == 2  # one per task: act and bc share the data settings
    assert k["demos"][0]["out_dir"].endswith("transfer_cube_24x32_top")
    # act and act-no-te share one trained act: 2 tasks x 2 policies x 2 seeds
    assert sorted((c["task"], c["method"], c["seed"]) for c in k["train"]) == sorted(
        (t, p, s) for t in ("transfer_cube", "insertion") for p in ("act", "bc") for s in (0, 1))
    assert len(k["eval"]) == 2 * 3 * 2
    out = tmp_path / "out"
    df = pd.read_csv(out / "results.csv")
    assert len(df) == 2 * 3 * 2 * 4 and set(df["method"]) == {"act", "act-no-te", "bc"}
    assert (df["episodes"] == 3).all()
    for name in ("summary.md", "success.png", "loss_curves.png", "report.html", "run.json",
                 "training/insertion/bc/seed1/metrics.csv", "evals/insertion/act-no-te/seed1/videos/episode_000.mp4"):
        assert (out / name).exists(), name
    assert (tmp_path / "runs" / "insertion" / "act" / "cpu" / "seed1" / "done.json").exists()
    timing = json.loads((out / "run.json").read_text())["timing"]  # the wall time, split by phase
    assert timing["wall_s"] >= timing["demos_s"] + timing["jobs_wall_s"] - 0.2
    # one job at a time: the jobs' own seconds fit inside the jobs phase
    assert 0 <= timing["train_jobs_s"] + timing["eval_jobs_s"] <= timing["jobs_wall_s"] + 0.2
    assert timing["jobs"] == 1 and timing["executor"] == "local"
    assert "jobs_wall_s" in (out / "report.html").read_text()  # the report shows its own run's timing
    printed = capsys.readouterr().out
    assert "## transfer_cube" in printed and "| act-no-te |" in printed
    # a second run finds everything done: no new calls, same results, the folder's record untouched
    first_record = (out / "run.json").read_text()
    _run(tmp_path, backend)
    assert len(backend.calls()) == 2 + 8 + 12
    pd.testing.assert_frame_equal(pd.read_csv(out / "results.csv"), df)
    assert (out / "run.json").read_text() == first_record
    # more episodes: evaluations resume, training is not repeated
    _run(tmp_path, backend, methods=["bc"], tasks=["insertion"], seeds=[0], episodes=5)
    k = _kinds(backend)
    assert len(k["train"]) == 8 and len(k["eval"]) == 13
    meta = json.loads((out / "run.json").read_text())
    assert (meta["tasks"], meta["episodes"]) == ("insertion", 5)
    assert [h["episodes"] for h in meta["history"]] == [3, 5]
    assert "Runs that wrote into this folder" in (out / "report.html").read_text()
    assert len(pd.read_csv(out / "evals/insertion/bc/seed0/episodes.csv")) == 5


def test_device_reaches_training_and_evaluation(tmp_path):
    backend = FakeBackend(tmp_path / "calls.log")
    _run(tmp_path, backend, methods=["act"], tasks=["transfer_cube"], seeds=[0], device="cpu")
    k = _kinds(backend)
    assert [c["device"] for c in k["train"]] == ["cpu"] and [c["device"] for c in k["eval"]] == ["cpu"]


def test_longer_training_redoes_its_evaluations(tmp_path):
    _run(tmp_path, FakeBackend(tmp_path / "calls.log"), tasks=["insertion"], seeds=[0], methods=["act", "bc"])
    longer = FakeBackend(tmp_path / "calls2.log", steps=8)
    _run(tmp_path, longer, tasks=["insertion"], seeds=[0], methods=["act", "bc"])
    k = _kinds(longer)
    assert len(k["train"]) == 2 and len(k["eval"]) == 2 and len(k["demos"]) == 0
    summary = json.loads((tmp_path / "out/evals/insertion/act/seed0/summary.json").read_text())
    assert summary["policy_id"].startswith("step 8 ")


def test_keep_evaluated_keeps_the_seeds_whose_runs_are_gone(tmp_path):
    """Results that came without their runs (trained elsewhere): a fully evaluated seed stands as it
    is; a seed one method has not evaluated is trained and evaluated again, every method of it."""
    grid = dict(tasks=["insertion"], seeds=[0, 1])
    _run(tmp_path, FakeBackend(tmp_path / "calls.log"), **grid)
    shutil.rmtree(tmp_path / "runs")
    (tmp_path / "out/evals/insertion/act-no-te/seed1/summary.json").unlink()
    kept = (tmp_path / "out/evals/insertion/act/seed0/summary.json").read_text()
    again = FakeBackend(tmp_path / "calls2.log")
    assert _run(tmp_path, again, keep_evaluated=True, **grid)["failures"] == []
    k = _kinds(again)
    assert [(c["method"], c["seed"]) for c in k["train"]] == [("act", 1)]
    assert [c["run_dir"] for c in k["eval"]] == [str(tmp_path / "runs/insertion/act/cpu/seed1")] * 2  # act, act-no-te
    assert (tmp_path / "out/evals/insertion/act/seed0/summary.json").read_text() == kept
    assert len(pd.read_csv(tmp_path / "out/results.csv")) == 3 * 2 * 4  # kept and new, every stage
    shutil.rmtree(tmp_path / "runs")  # without the option, every seed whose run is gone is trained again
    plain = FakeBackend(tmp_path / "calls3.log")
    _run(tmp_path, plain, **grid)
    assert len(_kinds(plain)["train"]) == 2 * 2 and len(_kinds(plain)["eval"]) == 3 * 2


def test_failed_training_is_reported_and_resumed(tmp_path):
    broken = FakeBackend(tmp_path / "calls.log", fail_train=["insertion/act/0"])
    result = _run(tmp_path, broken, tasks=["insertion"], seeds=[0], methods=["act", "act-no-te", "bc"])
    assert any("train insertion/act/0" in f for f in result["failures"])
    assert sum("skipped (training failed)" in f for f in result["failures"]) == 2
    res = pd.read_csv(tmp_path / "out" / "results.csv")
    assert set(res[res["status"] == "ok"]["method"]) == {"bc"}
    failed = res[res["status"] != "ok"]  # the failed cells are in results.csv as failed, with no rate
    assert set(failed["method"]) == {"act", "act-no-te"} and failed["rate"].isna().all()
    assert failed["status"].str.startswith("failed: training failed: training insertion/act/0").all()
    assert "| act | failed |" in (tmp_path / "out" / "summary.md").read_text()
    assert "Failed cells" in (tmp_path / "out" / "report.html").read_text()
    fixed = FakeBackend(tmp_path / "calls.log")
    result = _run(tmp_path, fixed, tasks=["insertion"], seeds=[0])
    assert result["failures"] == []
    k = _kinds(fixed)
    assert [(c["method"]) for c in k["train"]] == ["bc", "act"]  # bc from the first run, act now
    assert len(k["eval"]) == 3 and len(k["demos"]) == 1
    assert set(pd.read_csv(tmp_path / "out" / "results.csv")["method"]) == {"act", "act-no-te", "bc"}


def test_interrupt_then_resume(tmp_path):
    first = FakeBackend(tmp_path / "calls.log", interrupt_train=["insertion/bc/0"])
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, first, tasks=["transfer_cube", "insertion"], seeds=[0], methods=["bc"])
    assert [c["task"] for c in _kinds(first)["train"]] == ["transfer_cube"]
    # the finished training's loss curve is in the results folder already, though nothing was collected
    assert layout.training_metrics_copy(tmp_path / "out", "transfer_cube", "bc", 0).exists()
    assert not (tmp_path / "out" / "results.csv").exists()
    second = FakeBackend(tmp_path / "calls2.log")
    assert _run(tmp_path, second, tasks=["transfer_cube", "insertion"], seeds=[0], methods=["bc"])["failures"] == []
    k = _kinds(second)
    assert [c["task"] for c in k["train"]] == ["insertion"] and len(k["eval"]) == 1  # the rest was kept


def test_the_record_logs_a_killed_and_resumed_invocation_once(tmp_path):
    from act_bench.report.page import _history_rows

    grid = dict(tasks=["transfer_cube", "insertion"], seeds=[0], methods=["bc"])
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, FakeBackend(tmp_path / "a.log", interrupt_train=["insertion/bc/0"]), **grid)
    record = json.loads((tmp_path / "out/run.json").read_text())
    assert record["finished"] is False and [h["finished"] for h in record["history"]] == [False]
    _run(tmp_path, FakeBackend(tmp_path / "b.log"), **grid)  # the resume: same settings
    record = json.loads((tmp_path / "out/run.json").read_text())
    assert record["finished"] is True and [h["finished"] for h in record["history"]] == [True]
    assert "wall_s" in record["history"][0]["timing"]
    # a killed invocation of other settings that nobody resumed stays, marked in the report
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, FakeBackend(tmp_path / "c.log", interrupt_train=["insertion/bc/1"]), **{**grid, "seeds": [1]})
    _run(tmp_path, FakeBackend(tmp_path / "d.log"), **{**grid, "seeds": [2]})
    history = json.loads((tmp_path / "out/run.json").read_text())["history"]
    assert [(h["seeds"], h["finished"]) for h in history] == [("0", True), ("1", False), ("2", True)]
    assert [r.get("interrupted") for r in _history_rows(history)] == [None, "yes", None]
    assert "interrupted" in (tmp_path / "out/report.html").read_text()


def test_process_pool_runs_jobs_in_workers(tmp_path):
    backend = FakeBackend(tmp_path / "calls.log")
    result = _run(tmp_path, backend, jobs=2, tasks=["transfer_cube"], seeds=[0], methods=["act", "bc"],
                  overrides=["train.steps=4"])
    assert result["failures"] == []
    k = _kinds(backend)
    assert all(c["overrides"] == ["train.steps=4"] for c in k["train"])
    workers = {c["pid"] for c in k["train"] + k["eval"]}
    assert os.getpid() not in workers and 1 <= len(workers) <= 2
    cores = len(os.sched_getaffinity(0))
    assert all(c["threads"] == max(1, cores // 2) for c in k["eval"])
    assert all(c["cores"] == (max(1, cores // 2) if cores > 1 else 1) for c in k["eval"])  # pinned to its share
    assert len(pd.read_csv(tmp_path / "out" / "results.csv")) == 2 * 4


def test_bad_input(tmp_path):
    backend = FakeBackend(tmp_path / "calls.log")
    with pytest.raises(ActBenchError, match="unknown method 'dp'"):
        _run(tmp_path, backend, methods=["act", "dp"])
    with pytest.raises(ActBenchError, match="unknown task"):
        _run(tmp_path, backend, tasks=["stack"])
    with pytest.raises(ActBenchError, match="--jobs"):
        make_executor("local", 0)
    with pytest.raises(ActBenchError, match="--seeds"):
        run.parse_seeds("0,a")
    with pytest.raises(ActBenchError, match="empty"):
        run.parse_list(" , ", "methods")
    try:
        import ray  # noqa: F401
    except ImportError:
        with pytest.raises(ActBenchError, match="needs Ray"):
            make_executor("ray", 1)
    assert backend.calls() == []


def test_cli_arguments():
    parser = argparse.ArgumentParser()
    run.add_arguments(parser)
    args = parser.parse_args(["--methods", "act,bc", "--seeds", "0,1,2", "--jobs", "2"])
    assert run.parse_list(args.methods, "methods") == ["act", "bc"] and run.parse_seeds(args.seeds) == [0, 1, 2]
    assert (args.out, args.profile, args.tasks, args.episodes) == ("results/run", "cpu", "transfer_cube_v3,insertion_v3", None)
    assert run.grid_from_args(args, args.out).link_media is False
    linked = parser.parse_args(["--link-media"])
    assert run.grid_from_args(linked, linked.out).link_media is True
    assert run.grid_from_args(args, args.out).checkpoint == "best"
    assert run.grid_from_args(args, args.out).keep_evaluated is False
    keep = parser.parse_args(["--keep-evaluated"])
    assert run.grid_from_args(keep, keep.out).keep_evaluated is True
    last = parser.parse_args(["--checkpoint", "last"])
    assert run.grid_from_args(last, last.out).checkpoint == "last"


def test_the_last_checkpoint_is_evaluated_into_a_folder_of_its_own(tmp_path):
    backend, grid = FakeBackend(tmp_path / "calls.log"), dict(methods=["act"], tasks=["insertion"], seeds=[0])
    _run(tmp_path, backend, **grid)
    _run(tmp_path, backend, **grid, checkpoint="last", out=tmp_path / "last")
    k = _kinds(backend)
    assert len(k["train"]) == 1 and len(k["eval"]) == 2  # one training, evaluated at both checkpoints
    assert k["eval"][1]["run_dir"].endswith(os.path.join("seed0", "checkpoints", "last"))
    summary = json.loads((tmp_path / "last" / "evals" / "insertion" / "act" / "seed0" / "summary.json").read_text())
    assert summary["policy_id"].endswith(": checkpoint last step 4")
    assert json.loads((tmp_path / "last" / "run.json").read_text())["checkpoint"] == "last"
    _run(tmp_path, backend, **grid, checkpoint="last", out=tmp_path / "last")  # found done
    assert len(_kinds(backend)["eval"]) == 2
    # one results folder, one kind of checkpoint: its tables must not pool the two
    with pytest.raises(ActBenchError, match="holds evaluations of the last checkpoints, not the best"):
        _run(tmp_path, backend, **grid, out=tmp_path / "last")
    with pytest.raises(ActBenchError, match="holds evaluations of the best checkpoints, not the last"):
        _run(tmp_path, backend, **grid, checkpoint="last")
    with pytest.raises(ActBenchError, match="--checkpoint must be one of best, last"):
        _run(tmp_path, backend, **grid, checkpoint="first", out=tmp_path / "first")
    assert len(_kinds(backend)["eval"]) == 2 and not (tmp_path / "first").exists()


def test_link_media_writes_a_page_that_links_the_folders_files(tmp_path):
    _run(tmp_path, FakeBackend(tmp_path / "calls.log"), methods=["act"], tasks=["insertion"], seeds=[0], link_media=True)
    page = (tmp_path / "out" / "report.html").read_text()
    assert "base64," not in page
    assert "src='evals/insertion/act/seed0/videos/episode_000.mp4'" in page and "src='success.png'" in page


def test_ray_executor_with_a_stub_ray(tmp_path, monkeypatch):
    """The Ray path submits remote tasks and waits on their futures (a stub stands in for Ray)."""
    import concurrent.futures as cf
    import sys
    from types import SimpleNamespace

    submitted = []

    def remote(**resources):
        def wrap(fn):
            def call(*args):
                submitted.append(resources)
                fut = cf.Future()
                fut.set_result(fn(*args))
                return SimpleNamespace(future=lambda: fut)
            return SimpleNamespace(remote=call)
        return wrap

    stub = SimpleNamespace(is_initialized=lambda: True, remote=remote, cancel=lambda *a, **k: None)
    monkeypatch.setitem(sys.modules, "ray", stub)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):  # the job sets these here
        monkeypatch.setenv(var, os.environ.get(var, "1"))
    backend = FakeBackend(tmp_path / "calls.log")
    result = _run(tmp_path, backend, executor="ray", jobs=2, tasks=["insertion"], seeds=[3], methods=["act"])
    assert result["failures"] == [] and len(submitted) == 2
    assert submitted[0] == {"num_cpus": max(1, len(os.sched_getaffinity(0)) // 2), "num_gpus": 0.0}


def test_a_run_of_another_config_stops_the_grid_before_any_work(tmp_path):
    from act_bench.grid.run import ActBackend

    class Backend(FakeBackend):
        check_run = ActBackend.check_run  # the real comparison of config.json

        def load_profile(self, method, profile, overrides=None):
            return ActBackend().load_profile(method, "ci", overrides)

    run_dir = tmp_path / "runs" / "transfer_cube" / "act" / "cpu" / "seed0"
    run_dir.mkdir(parents=True)
    old = ActBackend().load_profile("act", "ci", ["model.cnn_kernel=5"])
    (run_dir / "config.json").write_text(json.dumps({"task": "transfer_cube", "method": "act", "seed": 0,
                                                     "config": old.to_dict()}))
    backend = Backend(tmp_path / "calls.log")
    with pytest.raises(ActBenchError, match="different run.*cnn_kernel"):
        _run(tmp_path, backend, methods=["act"], tasks=["transfer_cube"], seeds=[0])
    assert not [c for c in backend.calls() if c["kind"] in ("train", "eval")]


def test_bounds_are_evaluated_without_demos_or_training(tmp_path):
    """A bound's cell comes from its policy in the registry (here on the fake env): no demos, run
    folder or training for it, its rows beside the learned method's, labelled a bound."""
    backend = FakeBackend(tmp_path / "calls.log")
    result = _run(tmp_path, backend, methods=["still", "bc"], tasks=["insertion"], seeds=[0, 1])
    assert result["failures"] == []
    k = _kinds(backend)
    assert [(c["method"], c["seed"]) for c in k["train"]] == [("bc", 0), ("bc", 1)] and len(k["demos"]) == 1
    assert len(k["eval"]) == 2  # the trained policies loaded: bc's only
    assert not (tmp_path / "runs" / "insertion" / "still").exists()
    out = tmp_path / "out"
    df = pd.read_csv(out / "results.csv")
    assert set(df["method"]) == {"still", "bc"} and (df["episodes"] == 3).all()
    summary = json.loads((out / "evals/insertion/still/seed1/summary.json").read_text())
    assert (summary["kind"], summary["policy"], summary["trained_on"]) == ("lower bound", "still", {})
    assert json.loads((out / "evals/insertion/bc/seed1/summary.json").read_text())["kind"] == "trained"
    # the same starts as the learned method's seed
    still = pd.read_csv(out / "evals/insertion/still/seed1/episodes.csv")
    assert still["seed"].tolist() == pd.read_csv(out / "evals/insertion/bc/seed1/episodes.csv")["seed"].tolist()
    assert "still (lower bound)" in (out / "summary.md").read_text()
    assert "still (lower bound)" in (out / "report.html").read_text()
    # a rerun finds the bound's evaluations done
    written = (out / "evals/insertion/still/seed0/summary.json").stat().st_mtime_ns
    _run(tmp_path, backend, methods=["still", "bc"], tasks=["insertion"], seeds=[0, 1])
    assert (out / "evals/insertion/still/seed0/summary.json").stat().st_mtime_ns == written
