"""Where the benchmark's independent jobs run: inline, a local process pool, or Ray.

Every executor has submit(fn, *args) -> concurrent.futures.Future and shutdown(cancel);
`fn` must be a module-level function (it is pickled to the worker). Each worker limits
torch to its share of the cores (and a local worker is pinned to them), so N jobs on C cores
do not fight over C*N threads.
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import signal
import threading

from act_bench.errors import ActBenchError
from act_bench.runtime.threads import job_threads, machine_cores, set_job_threads
from act_bench.storage import interrupts

EXECUTORS = ("local", "ray")


def check_executor(kind: str, jobs: int) -> None:
    """--executor names a known executor and --jobs is at least 1."""
    if kind not in EXECUTORS:
        raise ActBenchError(f"unknown executor {kind!r}; choose from {', '.join(EXECUTORS)}")
    if jobs < 1:
        raise ActBenchError(f"--jobs must be >= 1, got {jobs}")


def limit_threads(threads: int) -> None:
    """Make this process a job of `threads` threads (train and eval read it: threads.py)."""
    set_job_threads(threads)


def available_cores() -> int:
    """The threads this job was given (the executor's share, else this process's cores)."""
    return job_threads()


def pin_cores(index: int, threads: int) -> None:
    """Pin this process to its own `threads` cores (worker `index` takes the next share).
    Code that sizes its thread pool by the CPU affinity (train.py does) then keeps to its share."""
    try:
        cores = sorted(os.sched_getaffinity(0))
    except AttributeError:
        return
    if threads >= len(cores):
        return
    start = (index * threads) % len(cores)
    os.sched_setaffinity(0, {cores[(start + j) % len(cores)] for j in range(threads)})


def _init_worker(threads: int, counter) -> None:
    interrupts.ignore_in_worker()  # Ctrl-C reaches the whole group: the parent decides
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    pin_cores(index, threads)
    limit_threads(threads)


def _call_limited(threads: int, fn, args, kwargs):
    limit_threads(threads)
    return fn(*args, **kwargs)


class InlineExecutor:
    """Runs each job at once in this process (jobs=1): plain tracebacks, live progress bars."""

    def submit(self, fn, *args, **kwargs) -> cf.Future:
        future: cf.Future = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # reported by the caller like a worker's failure
            future.set_exception(exc)
        return future

    def shutdown(self, cancel: bool = False) -> None:
        pass


class LocalPoolExecutor:
    """A ProcessPoolExecutor with the 'spawn' context (safe with torch, MuJoCo's EGL and CUDA)."""

    def __init__(self, jobs: int, threads: int):
        ctx = multiprocessing.get_context("spawn")
        self._pool = cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_worker,
                                            initargs=(threads, ctx.Value("i", 0)))

    def submit(self, fn, *args, **kwargs) -> cf.Future:
        return self._pool.submit(fn, *args, **kwargs)

    def shutdown(self, cancel: bool = False) -> None:
        if cancel:  # interrupted or failed: running jobs stop now (they resume on the rerun)
            for proc in list((getattr(self._pool, "_processes", None) or {}).values()):
                proc.terminate()
        self._pool.shutdown(wait=not cancel, cancel_futures=cancel)


class RayExecutor:
    """Ray tasks (a local Ray, or the cluster in RAY_ADDRESS); each asks for `threads` CPUs and
    runs with exactly that many torch threads, as a local pool worker does (Ray does not pin
    its workers, so without this a job would size its threads by the whole machine)."""

    def __init__(self, jobs: int, threads: int, gpus_per_job: float = 0.0):
        try:
            import ray
        except ImportError:
            raise ActBenchError("--executor ray needs Ray: pip install 'ray==2.60.0' "
                                "(in a clone: pip install -e '.[ray]')") from None
        self._ray = ray
        self._owns_ray = not ray.is_initialized()
        if self._owns_ray:
            # ray.init installs its own SIGTERM handler (a bare sys.exit): keep ours, which stops
            # the jobs (shutdown(cancel=True)) and says in one line where the command stopped
            sigterm = signal.getsignal(signal.SIGTERM)
            ray.init(address=os.environ.get("RAY_ADDRESS") or None, ignore_reinit_error=True,
                     log_to_driver=False)
            if sigterm is not None and threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGTERM, sigterm)
        self._threads = threads
        self._remote = ray.remote(num_cpus=threads, num_gpus=gpus_per_job)(_call_limited)
        self._refs = []

    def submit(self, fn, *args, **kwargs) -> cf.Future:
        ref = self._remote.remote(self._threads, fn, args, kwargs)
        self._refs.append(ref)
        return ref.future()

    def shutdown(self, cancel: bool = False) -> None:
        if cancel:  # interrupted or failed: running jobs stop now (they resume on the rerun)
            for ref in self._refs:
                self._ray.cancel(ref, force=True)
            if self._owns_ray:  # the local Ray this command started, workers and all
                self._ray.shutdown()


def make_executor(kind: str = "local", jobs: int = 1, cores: int | None = None):
    """Build an executor; threads per job = cores // jobs (at least 1)."""
    check_executor(kind, jobs)
    threads = max(1, (cores or machine_cores()) // jobs)
    if kind == "local":
        return InlineExecutor() if jobs == 1 else LocalPoolExecutor(jobs, threads)
    if kind == "ray":
        return RayExecutor(jobs, threads)
    raise AssertionError(kind)  # check_executor knows every kind
