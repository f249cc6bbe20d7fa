"""Flags that contradict what they evaluate, and paths of the wrong kind (`pytest -m faults`):
`eval --run RUN --task OTHER`, a --method the run's policy cannot run, --m or --n-action-steps
for a method that executes chunks otherwise, --env-workers / --device with --policy; a results
folder, a profile folder of seeds, a file or a missing path given as --run. Each is refused in
one line that says what to do instead, and writes nothing. (Cameras and image size are no
flags of eval: the env is always built with the policy's own.) Run through the CLI in this
process, on one tiny training.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cli_helpers import GEN, TINY, cli_here, ok

pytestmark = [pytest.mark.faults, pytest.mark.slow]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    w = tmp_path_factory.mktemp("contradictions")
    ok(*GEN, "--out", "demos", cwd=w)
    ok("train", "--task", "transfer_cube", "--policy", "act", "--profile", "ci", "--data", "demos", "--out",
       "runs/transfer_cube/act/ci/seed0", "--no-progress", *TINY, cwd=w)
    return w


def refused(w: Path, *args) -> str:
    before = sorted(p.relative_to(w) for p in w.rglob("*"))
    code, err = cli_here(["eval", *args, "--episodes", "2", "--videos", "0", "--no-progress"], w)
    lines = [ln for ln in err.splitlines() if "error:" in ln]
    assert code == 2 and "Traceback" not in err and len(lines) == 1, err[-2000:]
    assert sorted(p.relative_to(w) for p in w.rglob("*")) == before  # nothing written
    return lines[0]


RUN = "runs/transfer_cube/act/ci/seed0"


def test_task_contradicting_the_run(trained):
    line = refused(trained, "--run", RUN, "--task", "insertion")
    assert "--task insertion contradicts the run, which was trained on transfer_cube" in line
    assert "leave --task out" in line


def test_method_the_policy_cannot_run(trained):
    assert "method 'bc' needs a 'bc' policy, but the run holds 'act'" in refused(trained, "--run", RUN, "--method", "bc")


def test_execution_flags_of_another_method(trained):
    line = refused(trained, "--run", RUN, "--method", "act-no-te", "--m", "0.5")
    assert "--m weights temporal ensembling, which method act-no-te does not use" in line
    line = refused(trained, "--run", RUN, "--method", "act", "--n-action-steps", "2")
    assert "--n-action-steps sets open-loop chunk execution, which method act does not use" in line


def test_run_only_flags_with_a_policy(trained):
    for flag in (["--env-workers", "2"], ["--device", "cpu"]):
        line = refused(trained, "--policy", "test_external_policy:make_hold", "--task", "transfer_cube", "--out",
                       "ext", *flag)
        assert "--env-workers and --device apply to --run" in line


def test_paths_of_the_wrong_kind(trained, tmp_path):
    w = trained
    results = w / "results_folder"
    (results / "evals").mkdir(parents=True)
    (results / "results.csv").write_text("task\n")
    try:
        line = refused(w, "--run", "results_folder")
        assert "results_folder is a results folder (tables and reports), not a run" in line
        assert "runs/TASK/POLICY/PROFILE/seedS" in line
    finally:
        shutil.rmtree(results)
    line = refused(w, "--run", "runs/transfer_cube/act/ci")
    assert "runs/transfer_cube/act/ci holds the runs seed0: pass one of them, e.g. runs/transfer_cube/act/ci/seed0" in line
    line = refused(w, "--run", f"{RUN}/metrics.csv")
    assert f"{RUN}/metrics.csv is a file, not a run" in line
    line = refused(w, "--run", "runs/nowhere")
    assert "run folder or checkpoint not found: runs/nowhere" in line
    empty = w / "runs/empty"
    empty.mkdir()
    try:
        assert "no checkpoint in runs/empty" in refused(w, "--run", "runs/empty")
    finally:
        empty.rmdir()
