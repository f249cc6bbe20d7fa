"""Interleaved timing of act-bench against a peer project, each side in its own long-lived process.

The driver starts one worker per side (any Python: a worker needs only the standard library plus
whatever it measures), pins each to the same CPU cores and sends it one JSON command a line on
stdin; the worker answers one JSON line. Only one worker computes at a time, so both sides see the
same machine, and alternating them over several rounds spreads slow spells of other jobs over both.

Worker side: `serve(handlers)` with handlers mapping a command name to a function of the
command's fields returning a JSON-able dict. `timed(fn, n)` runs fn n times and reports the
seconds and the CPU cores other processes used meanwhile (LoadMonitor, from inside the worker, so
the worker's own threads are not counted). This module imports only the standard library.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import traceback
from typing import Any, Callable

from benchmarks.load_monitor import LoadMonitor


# --- driver side ----------------------------------------------------------------------------------
def bench_cores(n: int = 2) -> list[int]:
    """The first n cores this process may run on: both workers get the same ones."""
    return sorted(os.sched_getaffinity(0))[:n]


def thread_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[key] = str(threads)
    env.setdefault("MUJOCO_GL", "egl")
    env.update(HF_HUB_OFFLINE="1", PYTHONWARNINGS="ignore", PYTHONUNBUFFERED="1")
    return env


class Worker:
    """A worker process: `call(cmd, **fields)` sends a command and returns its answer."""

    def __init__(self, name: str, argv: list[str], cores: list[int], env: dict[str, str], cwd: str | None = None,
                 log_path: str | None = None):
        self.name = name
        self._log = open(log_path, "w") if log_path else None
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
                                     text=True, env=env, cwd=cwd,
                                     preexec_fn=lambda: os.sched_setaffinity(0, cores))

    def call(self, cmd: str, **fields: Any) -> dict:
        self.proc.stdin.write(json.dumps({"cmd": cmd, **fields}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.name} worker exited (code {self.proc.wait()}); see its log")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"{self.name} worker: {answer['error']}")
        return answer

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self._log:
            self._log.close()


def interleave(workers: list[Worker], rounds: int, cmd: str, **fields: Any) -> dict[str, list[dict]]:
    """`rounds` rounds of the same command to each worker in turn; the order flips every round."""
    out: dict[str, list[dict]] = {w.name: [] for w in workers}
    for r in range(rounds):
        for w in (workers if r % 2 == 0 else workers[::-1]):
            out[w.name].append(w.call(cmd, **fields))
    return out


def median_of(answers: list[dict], key: str) -> float:
    return statistics.median(a[key] for a in answers)


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# --- worker side ----------------------------------------------------------------------------------
def timed(fn: Callable[[], Any], n: int) -> dict:
    mon = LoadMonitor()
    mon.start()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "per_call_s": seconds / n, "n": n, "other_load_cores": mon.stop()}


def serve(handlers: dict[str, Callable[..., dict]]) -> None:
    """Answer commands until stdin closes. Anything else written to stdout (by Python or C code)
    goes to stderr, so the answers stay one clean JSON line each."""
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    for line in sys.stdin:
        request = json.loads(line)
        try:
            answer = handlers[request.pop("cmd")](**request)
        except Exception as exc:  # reported to the driver, which stops
            traceback.print_exc()
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()
