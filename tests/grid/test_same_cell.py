"""Same cell, same number: a cell trained inline, by a local process pool (--jobs 2) and by a
real local Ray cluster gives byte-identical checkpoints and identical episode outcomes, when
its torch thread count is the same. The thread count itself changes the weights (README, What
reproduces where), so each job's count comes from the executor's share of the cores (never the
machine's) and is recorded in config.json."""
import json
from pathlib import Path

import pandas as pd
import pytest

from act_bench.runtime.threads import machine_cores
from cli_helpers import cli_env, ok, sha

pytestmark = pytest.mark.slow
TINY = ["--set", "train.steps=20", "--set", "train.checkpoint_every=10", "--set", "model.d_model=32",
        "--set", "model.dim_feedforward=64", "--set", "model.n_heads=2"]


def _grid(w: Path, name: str, *extra) -> Path:
    env = cli_env()
    env.pop("OMP_NUM_THREADS", None)  # the executor decides
    args = ["run", "--methods", "act-no-te", "--tasks", "transfer_cube", "--seeds", "0,1", "--profile", "ci",
            "--episodes", "2", "--demos", "2", "--videos", "0", "--out", w / name / "out", "--demos-root",
            w / "demos", "--runs-root", w / name / "runs", "--no-progress", *TINY, *extra]
    ok(*args, cwd=w, env=env, timeout=900)
    return w / name


def _cell(root: Path, seed: int) -> dict:
    run = root / "runs" / "transfer_cube" / "act" / "ci" / f"seed{seed}"
    episodes = pd.read_csv(root / "out" / "evals" / "transfer_cube" / "act-no-te" / f"seed{seed}" / "episodes.csv")
    return {"weights": {p.name: sha(p)
                        for p in sorted((run / "checkpoints").glob("*.safetensors"))},
            "outcomes": episodes.drop(columns=["seconds"]).to_dict("records"),
            "threads": json.loads((run / "config.json").read_text())["threads"]}


@pytest.mark.skipif(machine_cores() < 2, reason="needs 2 cores for two parallel jobs")
def test_same_cell_inline_pool_and_ray(tmp_path):
    pytest.importorskip("ray")
    share = max(1, machine_cores() // 2)
    inline = _grid(tmp_path, "inline", "--set", f"train.num_threads={share}")
    pool = _grid(tmp_path, "pool", "--jobs", "2")
    ray = _grid(tmp_path, "ray", "--jobs", "2", "--executor", "ray")
    for seed in (0, 1):
        cells = [_cell(root, seed) for root in (inline, pool, ray)]
        assert [c["threads"] for c in cells] == [share] * 3  # Ray's jobs got the pool's share, not the machine
        assert cells[0]["weights"] == cells[1]["weights"] == cells[2]["weights"]
        assert cells[0]["outcomes"] == cells[1]["outcomes"] == cells[2]["outcomes"]
