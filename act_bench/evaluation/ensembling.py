"""Turn predicted action chunks into one action per control step.

Two selectors share one small interface (reset / needs_query / add / pop), each for B episodes
at once (a leading batch axis, rows reset one by one as episodes start), and `Execution` says
which one a method uses with which settings:
- BatchedTemporalEnsembler: query every step and average every prediction made for the current
  step, weights w_j = exp(-m j) with j = 0 for the oldest prediction (ACT's temporal
  ensembling).
- BatchedOpenLoopChunker: execute the first n_action_steps of a chunk open-loop, then query
  again (ACT without ensembling; with n = 1 and chunk size 1 it is plain one-action-per-step BC).

Each row is computed by the same float64 operations as the single-episode selectors in
tests/reference_eval.py (the ACT release's algorithm, one episode at a time), so every episode
gets bit-for-bit the actions it would get alone (tests/evaluation/test_ensembling.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from act_bench.errors import ActBenchError
from act_bench.sim import STATE_DIM

DEFAULT_M = 0.01  # the ACT paper's ensembling weight


def _rows(rows, batch: int) -> np.ndarray:
    return np.arange(batch) if rows is None else np.asarray(rows, dtype=np.intp).reshape(-1)


def _as_chunks(chunks, n_rows: int, action_dim: int) -> np.ndarray:
    a = np.asarray(chunks, dtype=np.float64)
    if a.ndim != 3 or a.shape[0] != n_rows or a.shape[2] != action_dim:
        raise ValueError(f"expected chunks of shape ({n_rows}, k, {action_dim}), got {a.shape}")
    return a


class BatchedTemporalEnsembler:
    """Online temporal ensembling for `batch` episodes, at constant cost per step.

    The ACT release stores every chunk in a (T, T + k, action_dim) table and, at step t,
    averages the predictions for t ordered oldest first with normalised weights
    exp(-m * arange(n)). The same number is kept incrementally here: a prediction for step s
    gets weight exp(-m j), j = how many predictions for s arrived before it, and each step s
    within the horizon has a running weighted sum, weight total and count in a ring buffer of
    k slots (slot s % k), cleared when its step is executed to serve step s + k. Row b has its
    own ring buffer and step count. Methods take `rows`, the episodes concerned (default: all); add() takes one chunk per row."""

    def __init__(self, batch: int, chunk_size: int, action_dim: int = STATE_DIM, m: float = DEFAULT_M):
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        self.batch, self.chunk_size, self.action_dim, self.m = int(batch), int(chunk_size), int(action_dim), float(m)
        b, k = self.batch, self.chunk_size
        self._sum = np.zeros((b, k, self.action_dim))
        self._weight = np.zeros((b, k))
        self._count = np.zeros((b, k), dtype=np.int64)
        self.t = np.zeros(b, dtype=np.int64)
        self.queries = np.zeros(b, dtype=np.int64)

    def reset(self, rows=None) -> None:
        r = _rows(rows, self.batch)
        self._sum[r], self._weight[r], self._count[r] = 0.0, 0.0, 0
        self.t[r], self.queries[r] = 0, 0

    def needs_query(self) -> np.ndarray:
        return np.ones(self.batch, dtype=bool)  # ensembling queries the policy every step

    def add(self, chunks, rows=None) -> None:
        r = _rows(rows, self.batch)
        a = _as_chunks(chunks, len(r), self.action_dim)
        if a.shape[1] != self.chunk_size:
            raise ValueError(f"expected {self.chunk_size} actions per chunk, got {a.shape[1]}")
        # the single-episode update, elementwise, on (row, slot) pairs (all distinct)
        idx = (r[:, None], (self.t[r, None] + np.arange(self.chunk_size)) % self.chunk_size)
        w = np.exp(-self.m * self._count[idx])
        self._sum[idx] += w[..., None] * a
        self._weight[idx] += w
        self._count[idx] += 1
        self.queries[r] += 1

    def current(self, rows=None) -> np.ndarray:
        r = _rows(rows, self.batch)
        slot = self.t[r] % self.chunk_size
        if np.any(self._count[r, slot] == 0):
            raise RuntimeError(f"no prediction covers the current step of rows {r[self._count[r, slot] == 0]}")
        return self._sum[r, slot] / self._weight[r, slot][:, None]

    def advance(self, rows=None) -> None:
        r = _rows(rows, self.batch)
        slot = self.t[r] % self.chunk_size
        self._sum[r, slot], self._weight[r, slot], self._count[r, slot] = 0.0, 0.0, 0
        self.t[r] += 1

    def pop(self, rows=None) -> np.ndarray:
        """(len(rows), A): each row's action for its current step; those rows move on a step."""
        actions = self.current(rows)
        self.advance(rows)
        return actions


class BatchedOpenLoopChunker:
    """Open-loop execution for `batch` episodes: each row keeps its last chunk and a read position
    (a fixed buffer instead of a deque, so a step costs the same at any batch size)."""

    def __init__(self, batch: int, n_action_steps: int | None = None, action_dim: int = STATE_DIM):
        if n_action_steps is not None and int(n_action_steps) < 1:
            raise ActBenchError(f"n_action_steps must be >= 1, got {n_action_steps}")
        self.batch, self.action_dim = int(batch), int(action_dim)
        self.n_action_steps = None if n_action_steps is None else int(n_action_steps)
        self._chunk = np.zeros((self.batch, 0, self.action_dim))  # grown at the first add()
        self._pos = np.zeros(self.batch, dtype=np.int64)
        self._len = np.zeros(self.batch, dtype=np.int64)
        self.t = np.zeros(self.batch, dtype=np.int64)
        self.queries = np.zeros(self.batch, dtype=np.int64)

    def reset(self, rows=None) -> None:
        r = _rows(rows, self.batch)
        self._pos[r], self._len[r], self.t[r], self.queries[r] = 0, 0, 0, 0

    def needs_query(self) -> np.ndarray:
        return self._pos >= self._len

    def add(self, chunks, rows=None) -> None:
        r = _rows(rows, self.batch)
        a = _as_chunks(chunks, len(r), self.action_dim)
        n = a.shape[1] if self.n_action_steps is None else self.n_action_steps
        if n > a.shape[1]:
            raise ActBenchError(f"n_action_steps={n} is longer than the policy's chunk of {a.shape[1]}")
        if self._chunk.shape[1] < n:  # keep the other rows' chunks
            grown = np.zeros((self.batch, n, self.action_dim))
            grown[:, :self._chunk.shape[1]] = self._chunk
            self._chunk = grown
        self._chunk[r, :n] = a[:, :n]  # anything left of an older chunk is dropped
        self._pos[r], self._len[r] = 0, n
        self.queries[r] += 1

    def pop(self, rows=None) -> np.ndarray:
        r = _rows(rows, self.batch)
        if np.any(self._pos[r] >= self._len[r]):
            raise RuntimeError(f"no action queued for rows {r[self._pos[r] >= self._len[r]]}; call add() first")
        actions = self._chunk[r, self._pos[r]]
        self._pos[r] += 1
        self.t[r] += 1
        return actions


@dataclass(frozen=True)
class Execution:
    """How a method runs a policy's chunks, resolved once: "ensemble" with weight m, or
    "open_loop" with n_action_steps actions per query (a single-action method is open-loop
    with n = 1). Everything that executes or records an evaluation reads it from here."""

    mode: str
    chunk_size: int
    m: float | None = None
    n_action_steps: int | None = None

    @classmethod
    def resolve(cls, execution: str, chunk_size: int, eval_cfg=None, m: float | None = None,
                n_action_steps: int | None = None) -> "Execution":
        """execution: the method's registered mode; eval_cfg: the profile's EvalConfig (its
        temporal_ensemble_m and n_action_steps, 0 meaning the chunk size); m and
        n_action_steps: explicit choices that win over the profile."""
        if execution == "ensemble":
            m = float(m if m is not None else getattr(eval_cfg, "temporal_ensemble_m", DEFAULT_M))
            if m < 0 or not math.isfinite(m):
                raise ActBenchError(f"the ensembling weight m must be a finite number >= 0, got {m}")
            return cls("ensemble", chunk_size, m=m)
        if execution == "single":
            return cls("open_loop", chunk_size, n_action_steps=1)
        if execution != "open_loop":
            raise ValueError(f"unknown execution mode {execution!r}")
        n = n_action_steps if n_action_steps is not None else getattr(eval_cfg, "n_action_steps", 0)
        n = int(n) or chunk_size
        if not 1 <= n <= chunk_size:
            raise ActBenchError(f"n_action_steps must be between 1 and the policy's chunk size {chunk_size}, got {n}")
        return cls("open_loop", chunk_size, n_action_steps=n)

    def batch_selector(self, batch: int, action_dim: int = STATE_DIM):
        """The selector for `batch` episodes stepped together (one row each)."""
        if self.mode == "ensemble":
            return BatchedTemporalEnsembler(batch, self.chunk_size, action_dim, self.m)
        return BatchedOpenLoopChunker(batch, self.n_action_steps, action_dim)

    def settings(self) -> dict:
        """What an evaluation records of it (eval.json, summary.json)."""
        return {"temporal_ensemble_m": self.m, "n_action_steps": self.n_action_steps}
