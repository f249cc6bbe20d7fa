"""Faults that must never turn into numbers (`pytest -m faults`): a training that
diverges, a demo folder with missing, extra or unlisted episodes, damaged run metadata, a
second writer on a folder in use, and SIGTERM / SIGINT. Each gives one line and a non-zero exit
(the failed cell's line for `run`), changes nothing a rerun cannot repair, and the repair the
line names works. All through the CLI, in subprocesses, on tiny settings.
"""
from __future__ import annotations

import json
import math
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import GEN, TINY, cli, cli_env, demos_fp, ok, one_line, run_fp, snapshot

from act_bench.storage.layout import REPAIR

pytestmark = [pytest.mark.faults, pytest.mark.slow]
DIVERGE = ["--set", "train.lr=1", "--set", "train.lr_backbone=1", "--set", "train.checkpoint_every=2"]  # NaN at step 4
DEMOS = "transfer_cube_48x64_top"


def train_args(data, out, *extra):
    return ["train", "--task", "transfer_cube", "--method", "act", "--profile", "ci", "--data", data, "--out", out,
            "--no-progress", *TINY, *extra]


def eval_args(run, out, episodes=2):
    return ["eval", "--run", run, "--method", "act-no-te", "--episodes", str(episodes), "--videos", "0",
            "--out", out, "--no-progress", "--batch", "2"]


def run_args(root, *extra):
    return ["run", "--methods", "act-no-te", "--tasks", "transfer_cube", "--profile", "ci", "--episodes", "2",
            "--demos", "2", "--videos", "0", "--out", f"{root}/out", "--demos-root", f"{root}/demos",
            "--runs-root", f"{root}/runs", "--no-progress", *TINY, *extra]


@pytest.fixture(scope="module")
def loud(tmp_path_factory):
    """Demos, a finished training and a finished grid of one cell."""
    w = tmp_path_factory.mktemp("loud")
    ok(*GEN, "--out", "demos", cwd=w)
    ok(*train_args("demos", "run"), cwd=w)
    (w / "grid/demos").mkdir(parents=True)
    shutil.copytree(w / "demos", w / "grid/demos" / DEMOS)
    ok(*run_args("grid"), cwd=w)
    return w


def copy_grid(w: Path, name: str) -> Path:
    shutil.copytree(w / "grid", w / name)
    return w / name


# ---------------------------------------------------------------- a diverging training
def test_diverged_training_stops_keeps_its_last_good_checkpoint(loud):
    w = loud
    line = one_line("train, lr 1: NaN loss at step 4", cli(*train_args("demos", "nan"), *DIVERGE, cwd=w))
    assert "training diverged" in line and "at step 4" in line and "last finite loss" in line
    assert "last good checkpoint (step 2)" in line
    last = json.loads((w / "nan/checkpoints/last.json").read_text())
    assert last["step"] == 2 and not (w / "nan/done.json").exists()
    from safetensors.torch import load_file
    assert all(bool(t.isfinite().all()) for t in load_file(w / "nan/checkpoints/last.safetensors").values())
    before = snapshot(w / "nan")
    t = time.perf_counter()
    again = one_line("train again, same settings", cli(*train_args("demos", "nan"), *DIVERGE, cwd=w))
    assert "diverged" in again and time.perf_counter() - t < 30  # said at once, not retrained
    one_line("eval of a diverged run folder", cli(*eval_args("nan", "nan_ev"), cwd=w))
    one_line("train with other settings into it", cli(*train_args("demos", "nan"), cwd=w))
    assert snapshot(w / "nan") == before and not (w / "nan_ev").exists()
    ok(*train_args("demos", "nan"), "--fresh", cwd=w)  # a new run: the same as an undisturbed one
    assert run_fp(w / "nan") == run_fp(w / "run") and not (w / "nan/diverged.json").exists()


def test_run_reports_a_diverged_cell_as_failed_not_zero(loud):
    g = copy_grid(loud, "nan_grid")
    shutil.rmtree(g / "runs")
    shutil.rmtree(g / "out")
    res = cli(*run_args("nan_grid", *DIVERGE), cwd=loud)
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr[-2000:]
    failed = [ln for ln in res.stderr.splitlines() if ln.startswith("FAILED train")]
    assert len(failed) == 1 and "training diverged" in failed[0], res.stderr[-2000:]
    results = pd.read_csv(g / "out/results.csv")
    assert list(results["status"]) == [results["status"][0]] and results["status"][0].startswith("failed: training")
    assert results["rate"].isna().all()  # no 0%
    summary = (g / "out/summary.md").read_text()
    assert "| act-no-te | failed |" in summary and "Failed cells" in summary
    assert "Failed cells" in (g / "out/report.html").read_text()


# ---------------------------------------------------------------- a demo folder read whole or refused
def _readers(w: Path, d: Path, grid: Path) -> list[tuple[str, list]]:
    return [("train", train_args(d, w / f"{d.name}_run")), ("inspect", ["inspect", d]), ("verify", ["verify", d]),
            ("export-lerobot", ["export-lerobot", d, w / f"{d.name}_lr", "--no-progress"]),
            ("run", run_args(grid))]


@pytest.mark.parametrize("fault", ["missing", "extra", "unfinished"])
def test_partial_demo_folder_is_refused_by_every_reader(loud, fault):
    w = loud
    g = copy_grid(w, f"grid_{fault}")
    shutil.rmtree(g / "runs")
    d = g / "demos" / DEMOS
    if fault == "missing":
        (d / "episode_1.hdf5").unlink()
    elif fault == "extra":
        shutil.copy(d / "episode_0.hdf5", d / "episode_2.hdf5")
    else:  # generate-demos killed before its manifest
        (d / "manifest.json").unlink()
    before = snapshot(g)  # run.json included: a refused invocation is not recorded
    name = {"missing": "episode_1.hdf5", "extra": "episode_2.hdf5", "unfinished": "did not finish"}[fault]
    # all readers list episodes through one function: every reader for one fault, two for the others
    chosen = {"missing": None, "extra": ("train", "run"), "unfinished": ("inspect", "export-lerobot")}[fault]
    lines = []
    for what, args in _readers(w, d, g):
        if chosen is not None and what not in chosen:
            continue  # (run finishes an unfinished folder itself: it records the demos it needs)
        line = one_line(f"{what}, demo folder with {fault} episodes", cli(*args, cwd=w))
        assert name in line and "act-bench generate-demos" in line, line
        lines.append(line)
    assert snapshot(g) == before
    assert not (w / f"{d.name}_run").exists() and not (w / f"{d.name}_lr").exists()
    if fault == "extra":
        (d / "episode_2.hdf5").unlink()  # the line's first repair
    else:
        repair = lines[0][lines[0].index("`") + 1:lines[0].rindex("`")].replace("--episodes N", "--episodes 2")
        ok(*shlex.split(repair)[1:], "--workers", "1", cwd=w)
    assert demos_fp(d) == demos_fp(w / "demos")
    ok("verify", d, cwd=w)


# ---------------------------------------------------------------- damaged run metadata
def _damage(path: Path) -> None:
    text = path.read_bytes()
    path.write_bytes(text[: len(text) // 2])


def test_damaged_run_metadata_is_refused_everywhere(loud):
    w = loud
    cases = [  # (file, the commands that read it)
        ("run/config.json", [train_args("demos", "{r}"), eval_args("{r}", "{r}_ev")]),
        ("run/done.json", [train_args("demos", "{r}"), eval_args("{r}", "{r}_ev")]),
        ("run/checkpoints/last.json", [train_args("demos", "{r}", "--set", "train.steps=25")]),
        ("run/checkpoints/best.json", [eval_args("{r}", "{r}_ev")]),
        ("grid/runs/transfer_cube/act/ci/seed0/done.json", [run_args("{g}")]),
        ("grid/out/run.json", [run_args("{g}"), ["report", "{g}/out"]]),
        ("grid/out/evals/transfer_cube/act-no-te/seed0/summary.json", [run_args("{g}")]),
        ("grid/out/evals/transfer_cube/act-no-te/seed0/eval.json",
         [eval_args("{g}/runs/transfer_cube/act/ci/seed0", "{g}/out/evals/transfer_cube/act-no-te/seed0")]),
    ]
    for i, (rel, commands) in enumerate(cases):
        top = rel.split("/")[0]
        copy = w / f"dmg{i}_{top}"
        shutil.copytree(w / top, copy)
        _damage(copy / rel.split("/", 1)[1])
        before = snapshot(copy)
        for args in commands:
            args = [str(a).format(r=copy, g=copy) for a in args]
            line = one_line(f"{args[0]}, damaged {rel}", cli(*args, cwd=w))
            assert Path(rel).name in line and REPAIR[Path(rel).name] in line, line  # the file and its repair
        assert snapshot(copy) == before
    # the repair the line names: a damaged done.json is deleted and the training rewrites it
    r = w / "dmg1_run"
    (r / "done.json").unlink()
    ok(*train_args("demos", r), cwd=w)
    assert run_fp(r) == run_fp(w / "run") and json.loads((r / "done.json").read_text())["step"] == 20


# ---------------------------------------------------------------- one writer per folder
HOLD = ("import sys, time\nfrom act_bench.storage.folder_lock import hold\n"
        "with hold(sys.argv[1], sibling=sys.argv[2] == '1'):\n    print('held', flush=True)\n    time.sleep(120)\n")


def _holder(folder: Path, sibling: bool = False) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(folder), "1" if sibling else "0"], env=cli_env(),
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "held"
    return p


def test_second_writer_stops_at_once_naming_the_holder(loud):
    w = loud
    g = copy_grid(w, "busy_grid")
    shutil.copytree(w / "run", w / "busy_run")
    cases = [("generate-demos", w / "demos", [*GEN, "--out", "demos"], False),
             ("train", w / "busy_run", train_args("demos", "busy_run"), False),
             ("eval", w / "busy_ev", eval_args("busy_run", "busy_ev"), False),
             ("run", g / "out", run_args(g.name), False),
             ("export-lerobot", w / "busy_lr", ["export-lerobot", "demos", "busy_lr", "--no-progress"], True)]
    for what, folder, args, sibling in cases:
        holder = _holder(folder, sibling)
        try:
            before = snapshot(folder) if folder.is_dir() else None
            line = one_line(f"{what} on a folder in use", cli(*args, cwd=w))
            assert f"in use by pid {holder.pid}" in line and "since" in line, line
            assert (snapshot(folder) if folder.is_dir() else None) == before
        finally:
            holder.send_signal(signal.SIGKILL)  # a killed holder leaves nothing stuck:
            holder.wait()
        ok(*args, cwd=w)
    assert not list(w.rglob(".act-bench.lock")) and not list(w.glob(".*.act-bench.lock"))


def test_a_sweep_on_a_folder_in_use_stops_before_any_work(tmp_path):
    """`sweep` holds its results folder as `run` does: a second writer gets one line, no files."""
    holder = _holder(tmp_path / "out")
    try:
        res = cli("sweep", "--param", "model.chunk_size=10,20", "--methods", "act", "--tasks", "transfer_cube",
                  "--profile", "ci", "--out", "out", "--runs-root", "runs", "--demos-root", "demos", "--no-progress",
                  cwd=tmp_path)
        assert f"in use by pid {holder.pid}" in one_line("sweep on a folder in use", res)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
        assert [p.name for p in (tmp_path / "out").iterdir()] == [".act-bench.lock"]
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()


def test_two_trainings_on_one_folder(loud):
    w = loud
    args = train_args("demos", "twice", "--set", "train.steps=400")
    first = subprocess.Popen([sys.executable, "-m", "act_bench.cli", *map(str, args)], cwd=w, env=cli_env(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(w / "twice/.act-bench.lock", first)
        line = one_line("a second train on the same run folder", cli(*args, cwd=w))
        assert f"pid {first.pid}" in line
    finally:
        first.send_signal(signal.SIGTERM)
        _, err = first.communicate(timeout=120)
    assert first.returncode == 143 and "interrupted by SIGTERM" in err, err[-2000:]


# ---------------------------------------------------------------- SIGTERM and SIGINT
def _wait_for(path, proc: subprocess.Popen, timeout: float = 300) -> None:
    """Until `path` exists (or the callable `path` says True)."""
    end = time.time() + timeout
    while not (path() if callable(path) else path.exists()):
        assert proc.poll() is None, "finished before the signal"
        assert time.time() < end, f"{path} never appeared"
        time.sleep(0.05)


def interrupt(args, cwd, when, sig=signal.SIGTERM, group: bool = False) -> str:
    """Start the command, send `sig` once `when` exists: the one line it printed."""
    p = subprocess.Popen([sys.executable, "-m", "act_bench.cli", *map(str, args)], cwd=cwd, env=cli_env(),
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    _wait_for(when, p)
    os.killpg(p.pid, sig) if group else p.send_signal(sig)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 128 + sig, err[-2000:]
    assert "Traceback" not in err, err[-3000:]
    lines = [ln for ln in err.replace("\r", "\n").splitlines() if "interrupted" in ln]
    assert len(lines) == 1 and "rerun the same command to resume" in lines[0], err[-2000:]
    return lines[0]


def test_signals_end_every_long_command_with_one_line(loud):
    w = loud
    line = interrupt([*GEN, "--episodes", "3", "--out", "sig_demos"], w, w / "sig_demos/episode_0.hdf5")
    # the worker's file lands a moment before the parent counts it: the line says what was counted
    assert "in generate-demos" in line and re.search(r"after [01] of 3 episodes", line), line
    ok(*GEN, "--episodes", "3", "--out", "sig_demos", cwd=w)
    args = train_args("demos", "sig_run", "--set", "train.steps=40")
    last = w / "sig_run/checkpoints/last.json"
    line = interrupt(args, w, last)
    assert "in train" in line and "it resumes from step" in line, line
    step = json.loads(last.read_text())["step"]
    line = interrupt(args, w, lambda: json.loads(last.read_text())["step"] > step, signal.SIGINT, group=True)  # Ctrl-C
    assert "interrupted by SIGINT in train" in line
    ok(*args, cwd=w)
    assert json.loads((w / "sig_run/done.json").read_text())["step"] == 40
    line = interrupt(eval_args("run", "sig_ev", episodes=6), w, w / "sig_ev/episodes.csv")
    assert "in eval" in line and "of 6 episodes" in line
    ok(*eval_args("run", "sig_ev", episodes=6), cwd=w)
    assert len(pd.read_csv(w / "sig_ev/episodes.csv")) == 6
    line = interrupt(run_args("sig_grid"), w, w / "sig_grid/runs/transfer_cube/act/ci/seed0/checkpoints/last.json")
    assert "in run" in line and "> train" in line
    ok(*run_args("sig_grid"), cwd=w)
    line = interrupt(["export-lerobot", "demos", "sig_lr"], w, lambda: any(w.glob(".sig_lr.*.tmp")))
    assert "in export-lerobot" in line
    assert not (w / "sig_lr").exists() and not list(w.glob(".sig_lr*"))
    ok("export-lerobot", "demos", "sig_lr", "--no-progress", cwd=w)
    assert math.isfinite(pd.read_csv(w / "sig_grid/out/results.csv")["rate"].iloc[0])
