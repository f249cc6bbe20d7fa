"""The evaluation's envs, one per lockstep slot: in this process, or shared out over worker
processes.

On a CPU an env step is mostly its offscreen frame (far more than its physics), and a frame
renders on one core. Worker processes step their share of the slots at the same time while this
process waits; then this process runs the batched policy query while they wait, which pays when
the policy runs on a GPU; see default_workers for the CPU (measured by benchmarks/eval_speed.py:
results/bench, README Performance). Each
slot's env is the same env, seeded the same, wherever it lives, so the episodes are the same bit
for bit (tests/evaluation/test_env_slots.py).

A step's result per slot is (obs, terminated, truncated, info, frame): frame is the video frame
when the slot is recording (rollout.video_frame), else None.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import traceback
from typing import Callable, Sequence

from act_bench.errors import ActBenchError, RenderingUnavailable
from act_bench.evaluation.rollout import video_frame

# one rasteriser thread per worker: the workers already fill the cores, and Mesa's llvmpipe
# would otherwise start a thread per core in every worker
WORKER_ENV = {"LP_NUM_THREADS": "1"}


class InlineSlots:
    """The envs in this process. make(): a new env."""

    def __init__(self, make: Callable[[], object], n: int, cameras: Sequence[str], slots: Sequence[int] | None = None):
        self.cameras = list(cameras)
        self.envs: dict[int, object] = {}
        try:
            for j in (range(n) if slots is None else slots):
                self.envs[j] = make()
        except BaseException:
            self.close()
            raise
        self.n = n

    @property
    def stage_names(self) -> list[str]:
        return list(next(iter(self.envs.values())).unwrapped.task_config.stage_names)

    def reset(self, j: int, seed: int, record: bool = False):
        """(obs, frame) of slot j's env reset with `seed`."""
        obs, _ = self.envs[j].reset(seed=int(seed))
        return obs, (video_frame(self.envs[j], obs, self.cameras) if record else None)

    def step(self, moves: Sequence[tuple[int, object, bool]]) -> list[tuple]:
        """Step each (slot, action, record) of moves; the results in the same order."""
        results = []
        for j, action, record in moves:
            env = self.envs[j]
            obs, _, terminated, truncated, info = env.step(action)
            results.append((obs, terminated, truncated, info, video_frame(env, obs, self.cameras) if record else None))
        return results

    def close(self) -> None:
        for env in self.envs.values():
            env.close()
        self.envs = {}


class WorkerSlots:
    """The same slots, slot j in worker process j % workers (spawned: safe beside torch and EGL).

    make must pickle (a module-level function or a bound method of a plain object). A worker's
    error comes back as the same one-line error; a worker that dies ends the evaluation with one."""

    def __init__(self, make: Callable[[], object], n: int, cameras: Sequence[str], workers: int):
        self.n, self.cameras = n, list(cameras)
        self.workers = max(1, min(int(workers), n))
        self._owner = [j % self.workers for j in range(n)]
        ctx = multiprocessing.get_context("spawn")
        self._conns, self._procs = [], []
        try:
            for w in range(self.workers):
                parent, child = ctx.Pipe()
                proc = ctx.Process(target=_serve, args=(child, make, n, self.cameras,
                                                        [j for j in range(n) if j % self.workers == w]),
                                   name=f"act-bench-env-{w}", daemon=True)
                proc.start()
                child.close()
                self._conns.append(parent)
                self._procs.append(proc)
            names = [self._receive(w) for w in range(self.workers)]  # each reports when its envs are built
        except BaseException:
            self.close()
            raise
        self._stage_names = names[0]

    @property
    def stage_names(self) -> list[str]:
        return list(self._stage_names)

    def reset(self, j: int, seed: int, record: bool = False):
        w = self._owner[j]
        self._send(w, ("reset", (j, int(seed), record)))
        return self._receive(w)

    def step(self, moves: Sequence[tuple[int, object, bool]]) -> list[tuple]:
        shares: dict[int, list[int]] = {}
        for k, (j, _, _) in enumerate(moves):
            shares.setdefault(self._owner[j], []).append(k)
        for w, ks in shares.items():  # every worker starts before any is waited for
            self._send(w, ("step", [moves[k] for k in ks]))
        results: list = [None] * len(moves)
        for w, ks in shares.items():
            for k, result in zip(ks, self._receive(w)):
                results[k] = result
        return results

    def close(self) -> None:
        for conn in self._conns:
            try:
                conn.send(("close", None))
            except (OSError, ValueError):
                pass
        for proc in self._procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
        for conn in self._conns:
            conn.close()
        self._conns, self._procs = [], []

    def _send(self, w: int, message) -> None:
        try:
            self._conns[w].send(message)
        except OSError:  # a broken pipe: the worker is gone
            self._died(w)

    def _receive(self, w: int):
        try:
            kind, value = self._conns[w].recv()
        except (EOFError, OSError):
            self._died(w)
        if kind == "ok":
            return value
        error, message = value
        raise (RenderingUnavailable if error == "RenderingUnavailable" else ActBenchError)(message)


    def _died(self, w: int):
        self._procs[w].join(timeout=5)
        raise ActBenchError(f"env worker {w} died (exit code {self._procs[w].exitcode})") from None


def _serve(conn, make, n: int, cameras: list[str], slots: list[int]) -> None:
    """A worker: build its slots' envs, then answer reset / step until told to close (or the
    parent is gone)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    os.environ.update(WORKER_ENV)
    envs = None
    try:
        try:
            envs = InlineSlots(make, n, cameras, slots)
            conn.send(("ok", envs.stage_names))
        except Exception as exc:
            conn.send(("error", _describe(exc)))
            return
        while True:
            try:
                command, arg = conn.recv()
            except (EOFError, OSError):  # the parent died
                return
            if command == "close":
                return
            try:
                value = envs.reset(*arg) if command == "reset" else envs.step(arg)
            except Exception as exc:
                conn.send(("error", _describe(exc)))
                continue
            conn.send(("ok", value))
    finally:
        if envs is not None:
            envs.close()


def _describe(exc: Exception) -> tuple[str, str]:
    if isinstance(exc, ActBenchError):
        return type(exc).__name__, str(exc)
    last = traceback.format_exception_only(type(exc), exc)[-1].strip()
    return type(exc).__name__, f"env worker failed: {last}"


def default_workers(threads: int, device: str = "cpu") -> int:
    """Env worker processes for an evaluation given `threads` cores and its policy's device: one
    per core when the policy runs on a GPU (the envs are then the whole CPU load), none when it
    shares the CPU with them: torch's threads and the workers then contend for the same cores,
    and workers gained little or lost (benchmarks/eval_speed.py, results/bench)."""
    return threads if threads >= 2 and str(device).startswith("cuda") else 0


def make_slots(make: Callable[[], object], n: int, cameras: Sequence[str], workers: int):
    """InlineSlots, or WorkerSlots when workers > 1 and this process may start processes."""
    if workers > 1 and n > 1 and not multiprocessing.current_process().daemon:
        return WorkerSlots(make, n, cameras, workers)
    return InlineSlots(make, n, cameras)
