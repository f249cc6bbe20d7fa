"""A task and a method added from outside the package (examples/plugin, found through the
`act_bench.plugins` entry point) are listed and run by `act-bench run` with no other edit."""
import json
import os
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import cli

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "plugin"


def _installed_example(tmp_path: Path) -> dict:
    """An environment in which the example is installed: its dist-info (what pip writes) on the path."""
    site = tmp_path / "site"
    dist = site / "act_bench_example-0.1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: act-bench-example\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text("[act_bench.plugins]\nexample = act_bench_example\n")
    path = os.pathsep.join([str(site), str(EXAMPLE), str(REPO), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}


def test_plugin_task_and_method_are_listed(tmp_path):
    env = _installed_example(tmp_path)
    help_text = cli("run", "--help", cwd=tmp_path, env=env).stdout
    assert "transfer_cube_near" in help_text and "state-bc" in help_text
    assert "transfer_cube_near" not in cli("run", "--help", cwd=tmp_path, env={**env, "PYTHONPATH": str(REPO)}).stdout


@pytest.mark.slow
def test_plugin_runs_in_the_benchmark(tmp_path):
    env = _installed_example(tmp_path)
    done = cli("run", "--methods", "state-bc,bc", "--tasks", "transfer_cube_near", "--seeds", "0",
               "--profile", "ci", "--demos", "2", "--episodes", "2", "--videos", "0", "--set", "train.steps=20",
               "--no-progress", "--out", "out", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    results = pd.read_csv(tmp_path / "out" / "results.csv")
    assert set(results["method"]) == {"state-bc", "bc"} and set(results["task"]) == {"transfer_cube_near"}
    assert set(results.groupby("method")["episodes"].max()) == {2}
    manifest = json.loads(next((tmp_path / "demos").glob("transfer_cube_near_*/manifest.json")).read_text())
    assert manifest["task"] == "transfer_cube_near"
    starts = [p for p in manifest["seeds"]]
    assert len(starts) == 2


def test_a_broken_plugin_is_a_one_line_error(tmp_path):
    env = _installed_example(tmp_path)
    ep = tmp_path / "site" / "act_bench_example-0.1.0.dist-info" / "entry_points.txt"
    ep.write_text("[act_bench.plugins]\nbroken = no_such_module_here\n")
    done = cli("run", "--no-progress", cwd=tmp_path, env=env)
    assert done.returncode != 0
    assert "plugin 'broken' (no_such_module_here) failed to load" in done.stderr
    assert "Traceback" not in done.stderr
