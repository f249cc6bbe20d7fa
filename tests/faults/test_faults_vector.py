"""Gymnasium's async vector envs over act-bench's env ids, with Linux's default fork context:
they reset, step and close, leaving no worker behind; a worker forked from a process that had
already rendered fails with one message instead of hanging in the GL driver. Each case runs in
a subprocess with a hard timeout, so a regression fails the test instead of hanging the suite.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import alive

pytestmark = [pytest.mark.faults]
REPO = Path(__file__).resolve().parents[2]

ASYNC_VEC = """
import json, sys
import gymnasium as gym
import numpy as np
import act_bench
from act_bench.envs import make_env

if sys.argv[1] == "rendered-first":  # the parent renders before the workers are forked
    env = make_env("transfer_cube", image_size=(24, 32)); env.reset(seed=0); env.close()
vec = gym.make_vec("act_bench/TransferCube-v2", num_envs=2, vectorization_mode="async",
                   cameras=("top",), image_size=(24, 32))
pids = [p.pid for p in vec.processes]
print(json.dumps({"pids": pids}), flush=True)
try:
    obs, info = vec.reset(seed=[1, 2])
    obs, reward, terminated, truncated, info = vec.step(np.stack([vec.single_action_space.sample()] * 2))
    out = {"images": list(obs["images"]["top"].shape), "mean": float(obs["images"]["top"].mean()),
           "differ": bool((obs["images"]["top"][0] != obs["images"]["top"][1]).any())}
except Exception as exc:
    out = {"error": f"{type(exc).__name__}: {exc}"}
vec.close()
print(json.dumps(out), flush=True)
"""


def _run(mode: str) -> tuple[list[int], dict]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", ASYNC_VEC, mode], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=REPO, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the workers share its process group: none is left behind
        proc.communicate()
        pytest.fail(f"async vector env ({mode}) hung for 60 s")
    assert proc.returncode == 0, err[-2000:]
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return lines[0]["pids"], lines[1]


def test_async_vector_env_with_fork_resets_steps_and_closes():
    pids, out = _run("fresh")
    assert "error" not in out, out
    assert out["images"] == [2, 24, 32, 3] and out["mean"] > 0
    assert out["differ"]  # two seeds, two different scenes
    assert len(pids) == 2 and not any(alive(p) for p in pids)


def test_async_vector_env_forked_after_rendering_fails_in_one_message():
    pids, out = _run("rendered-first")
    assert "forked from one that had already rendered" in out["error"]
    assert "'context': 'spawn'" in out["error"]
    assert not any(alive(p) for p in pids)
