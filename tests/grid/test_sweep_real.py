"""A tiny real `act-bench sweep` (ci profile, 20 training steps, 2 demos, 2 evaluation episodes)
through the CLI: a local process pool and a real local Ray cluster give the same weights and
results; kill -9 mid-training or mid-evaluation then a rerun gives the same again; a sweep of an eval-only
field evaluates the trained model and trains nothing."""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import TINY, cli_command, cli_env, ok, sha

pytestmark = pytest.mark.slow
RUNS = ("ci", "ci+model.chunk_size=5")  # chunk size 20 is the ci profile's own: the base run


def _args(root: str, *extra) -> list[str]:
    return ["sweep", "--methods", "act-no-te", "--tasks", "transfer_cube", "--seeds", "0", "--profile", "ci",
            "--param", "model.chunk_size=5,20", "--episodes", "2", "--demos", "2", "--videos", "0", "--jobs", "2",
            "--out", f"{root}/out", "--runs-root", f"{root}/runs", "--demos-root", "demos", "--no-progress",
            *TINY, *extra]


def _kill_when(args, cwd: Path, pattern: str, timeout: float = 600) -> None:
    """Start the sweep and SIGKILL its process group (pool workers too) as soon as a file
    matching `pattern` (a glob under cwd) exists: mid-training or mid-evaluation, whatever the
    machine's speed."""
    p = subprocess.Popen(cli_command(*args), cwd=cwd, env=cli_env(), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout
    while not any(cwd.glob(pattern)) and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    alive = p.poll() is None
    if alive:
        os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    assert alive, f"the sweep ended before {pattern} appeared"


def _fingerprint(root: Path) -> dict:
    """Weights of every run, outcomes of every evaluation, and the results table."""
    runs = root / "runs" / "transfer_cube" / "act"
    fp = {f"{r}/{p.name}": sha(p) for r in RUNS for p in sorted((runs / r / "seed0" / "checkpoints").glob("*.safetensors"))}
    for ep in sorted((root / "out" / "points").glob("*/evals/*/*/seed*/episodes.csv")):
        fp[str(ep.relative_to(root))] = pd.read_csv(ep).drop(columns=["seconds"]).to_csv(index=False)
    fp["results.csv"] = (root / "out" / "results.csv").read_text()
    return fp


def _snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (sha(p), p.stat().st_mtime_ns) for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    w = tmp_path_factory.mktemp("sweep")
    ok(*_args("pool"), cwd=w, timeout=900)
    return {"w": w, "fp": _fingerprint(w / "pool")}


def test_pool_and_ray_give_the_same_sweep(pool):
    pytest.importorskip("ray")
    w = pool["w"]
    assert len(pool["fp"]) == 2 * 3 + 2 + 1  # best, last and last_state of two runs, two evaluations, the table
    ok(*_args("ray", "--executor", "ray"), cwd=w, timeout=900)
    assert _fingerprint(w / "ray") == pool["fp"]
    df = pd.read_csv(w / "pool" / "out" / "results.csv")
    assert sorted(set(df["model.chunk_size"])) == [5, 20]
    for name in ("summary.md", "sweep.png", "report.html", "loss_curves.png"):
        assert (w / "pool" / "out" / name).exists(), name


def test_kill9_then_rerun_gives_the_same_sweep(pool):
    w = pool["w"]
    # killed at the first checkpoint of a training, then at the first episode of an evaluation
    for name, pattern in (("kill0", "kill0/runs/*/*/*/seed0/checkpoints/last.safetensors"),
                          ("kill1", "kill1/out/points/*/evals/*/*/seed0/episodes.csv")):
        _kill_when(_args(name), w, pattern)
        ok(*_args(name), cwd=w, timeout=900)
        assert _fingerprint(w / name) == pool["fp"]


def test_an_execution_only_sweep_trains_nothing(pool):
    w = pool["w"]
    before = _snapshot(w / "pool" / "runs")
    args = [a if a != "model.chunk_size=5,20" else "eval.n_action_steps=1,4" for a in _args("pool")]
    args[args.index("pool/out")] = "pool/exec"
    ok(*args, cwd=w, timeout=900)
    assert _snapshot(w / "pool" / "runs") == before  # no training ran, not even a resumed one
    df = pd.read_csv(w / "pool" / "exec" / "results.csv")
    assert sorted(set(df["eval.n_action_steps"])) == [1, 4] and len(df) == 2 * 4
    summaries = [json.loads(p.read_text()) for p in sorted((w / "pool/exec/points").glob("*/evals/*/*/seed0/summary.json"))]
    assert [s["n_action_steps"] for s in summaries] == [1, 4]  # executed as swept, on the base run's weights
    assert {s["policy_id"] for s in summaries} == {json.loads((w / "pool/out/points/model.chunk_size=20/evals/"
                                                              "transfer_cube/act-no-te/seed0/summary.json").read_text())["policy_id"]}
