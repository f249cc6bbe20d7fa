"""A SIGTERM stops a command's Ray jobs, as it does the local pool's: ray.init's own SIGTERM
handler (a bare sys.exit) must not replace act-bench's, which cancels the jobs, stops the local
Ray it started and says in one line where the command stopped."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_helpers import alive

pytest.importorskip("ray", reason="Ray is an optional extra (pip install -e '.[ray]')")
pytestmark = [pytest.mark.faults, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]

DRIVER = """
import concurrent.futures as cf, os, sys, time
from pathlib import Path
from act_bench.storage import interrupts
from act_bench.grid.executors import RayExecutor

def job(path):
    Path(path).write_text(str(os.getpid()))
    time.sleep(600)

interrupts.install()
pool = RayExecutor(1, 1)
future = pool.submit(job, sys.argv[1])
try:  # as run.execute waits on its jobs
    with interrupts.stage("ray jobs"):
        cf.wait([future])
except BaseException as exc:
    pool.shutdown(cancel=True)
    print(interrupts.message("driver", exc), file=sys.stderr)
    sys.exit(getattr(exc, "exit_code", 1))
"""


def test_sigterm_stops_ray_jobs(tmp_path):
    pid_file = tmp_path / "job.pid"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "RAY_ADDRESS": ""}
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(pid_file)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 120
        while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            time.sleep(0.2)
        job_pid = int(pid_file.read_text())
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    lines = [line for line in err.splitlines() if "driver:" in line]
    assert proc.returncode == 128 + signal.SIGTERM, err[-2000:]
    assert lines == ["driver: interrupted by SIGTERM in ray jobs; rerun the same command to resume"]
    deadline = time.monotonic() + 20
    while alive(job_pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(job_pid), "the Ray job's worker outlived the SIGTERM"
