"""How many torch threads a job uses. torch's CPU results change with the thread count (a
1-thread and a 2-thread training of the same run differ from the first steps), so the count
comes from the job (executors set ACT_BENCH_JOB_THREADS), never from the machine, and a run
keeps the count it was started with (config.json "threads") whoever resumes or evaluates it."""
from __future__ import annotations

import contextlib
import os
from typing import Iterator
from act_bench.storage import layout

ENV = "ACT_BENCH_JOB_THREADS"


def machine_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def job_threads() -> int:
    """The threads this job was given: set by the executor, else the cores this process may use."""
    try:
        n = int(os.environ.get(ENV, "0"))
    except ValueError:
        n = 0
    return n if n > 0 else machine_cores()


def recorded_threads(run_dir) -> int | None:
    """The torch thread count a run was started with (None for runs that predate the record)."""
    value = (layout.read_run_config(run_dir) or {}).get("threads")
    return int(value) if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def run_threads(run_dir, requested: int = 0) -> int:
    """The one rule for training and evaluating a run: the count it was started with, else
    `requested` (train.num_threads; 0 = none), else the threads this job was given."""
    return recorded_threads(run_dir) or requested or job_threads()


def set_job_threads(n: int) -> None:
    """Mark this process as a job of n threads (read by job_threads) and cap torch / BLAS."""
    os.environ[ENV] = str(n)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(n)
    import torch

    torch.set_num_threads(n)


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[int]:
    """torch uses n threads inside the block; the caller's setting is restored after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield n
    finally:
        torch.set_num_threads(before)
