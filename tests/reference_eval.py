"""Single-episode references the evaluation is tested against (test code only): the ACT
release's one-episode action selectors and a plain rollout loop. The package runs episodes in
lockstep with batched selectors (act_bench.evaluation.lockstep, .ensembling); these say what
each episode must get alone."""
from __future__ import annotations

import time
from collections import deque
from typing import Sequence

import numpy as np

from act_bench.errors import ActBenchError
from act_bench.evaluation.ensembling import DEFAULT_M
from act_bench.evaluation.rollout import ChunkPolicy, episode_row, policy_device, query_batch, video_frame
from act_bench.sim import STATE_DIM


def selector(execution, action_dim: int = STATE_DIM):
    """The single-episode selector of an ensembling.Execution."""
    if execution.mode == "ensemble":
        return TemporalEnsembler(execution.chunk_size, action_dim, execution.m)
    return OpenLoopChunker(execution.n_action_steps, action_dim)


def _as_chunk(chunk, action_dim: int) -> np.ndarray:
    a = np.asarray(chunk, dtype=np.float64)
    if a.ndim == 3 and a.shape[0] == 1:  # a batch of one, as predict_chunk returns
        a = a[0]
    if a.ndim != 2 or a.shape[1] != action_dim:
        raise ValueError(f"expected an action chunk of shape (k, {action_dim}), got {a.shape}")
    return a


class TemporalEnsembler:
    """Online temporal ensembling with constant cost per step.

    The ACT release stores every chunk in a (T, T + k, 14) table and, at step t, averages the
    predictions for t ordered oldest first with normalised weights exp(-m * arange(n)). The
    same number is kept incrementally here: a prediction for step s gets weight exp(-m j),
    j = how many predictions for s arrived before it, and each step s within the horizon has
    a running weighted sum, weight total and count in a ring buffer of k slots (slot s % k).
    A slot is cleared when its step is executed and then serves step s + k.
    """

    def __init__(self, chunk_size: int, action_dim: int = STATE_DIM, m: float = DEFAULT_M):
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        self.chunk_size, self.action_dim, self.m = int(chunk_size), int(action_dim), float(m)
        self.reset()

    def reset(self) -> None:
        k, d = self.chunk_size, self.action_dim
        self._sum = np.zeros((k, d))
        self._weight = np.zeros(k)
        self._count = np.zeros(k, dtype=np.int64)
        self.t = 0  # the step the next pop() executes
        self.queries = 0

    def needs_query(self) -> bool:
        return True  # ensembling queries the policy every step

    def add(self, chunk) -> None:
        """Add a chunk predicted at the current step: chunk[i] is for step t + i."""
        a = _as_chunk(chunk, self.action_dim)
        if a.shape[0] != self.chunk_size:
            raise ValueError(f"expected {self.chunk_size} actions per chunk, got {a.shape[0]}")
        slots = (self.t + np.arange(self.chunk_size)) % self.chunk_size
        w = np.exp(-self.m * self._count[slots])
        self._sum[slots] += w[:, None] * a
        self._weight[slots] += w
        self._count[slots] += 1
        self.queries += 1

    def current(self) -> np.ndarray:
        """The ensembled action for the current step (no side effect)."""
        slot = self.t % self.chunk_size
        if self._count[slot] == 0:
            raise RuntimeError(f"no prediction covers step {self.t}; call add() first")
        return self._sum[slot] / self._weight[slot]

    def advance(self) -> None:
        slot = self.t % self.chunk_size
        self._sum[slot] = 0.0
        self._weight[slot] = 0.0
        self._count[slot] = 0
        self.t += 1

    def pop(self) -> np.ndarray:
        """Return the action for the current step and move to the next step."""
        action = self.current()
        self.advance()
        return action


class OpenLoopChunker:
    """Execute the first n_action_steps actions of each chunk, then ask for a new chunk.

    n_action_steps=None executes the whole chunk (ACT without temporal ensembling).
    """

    def __init__(self, n_action_steps: int | None = None, action_dim: int = STATE_DIM):
        if n_action_steps is not None and int(n_action_steps) < 1:
            raise ActBenchError(f"n_action_steps must be >= 1, got {n_action_steps}")
        self.n_action_steps = None if n_action_steps is None else int(n_action_steps)
        self.action_dim = int(action_dim)
        self.reset()

    def reset(self) -> None:
        self._queue: deque[np.ndarray] = deque()
        self.t = 0
        self.queries = 0

    def needs_query(self) -> bool:
        return not self._queue

    def add(self, chunk) -> None:
        a = _as_chunk(chunk, self.action_dim)
        n = a.shape[0] if self.n_action_steps is None else self.n_action_steps
        if n > a.shape[0]:
            raise ActBenchError(f"n_action_steps={n} is longer than the policy's chunk of {a.shape[0]}")
        self._queue = deque(a[:n])  # anything left of an older chunk is dropped
        self.queries += 1

    def current(self) -> np.ndarray:
        if not self._queue:
            raise RuntimeError(f"no action queued for step {self.t}; call add() first")
        return self._queue[0]

    def pop(self) -> np.ndarray:
        action = self._queue.popleft() if self._queue else self.current()
        self.t += 1
        return action


def query(policy: ChunkPolicy, obs: dict, cameras: Sequence[str], device) -> np.ndarray:
    """One batch-1 query -> a (1, k, A) float64 chunk."""
    return query_batch(policy, [obs], cameras, device)


def run_episode(env, policy: ChunkPolicy, selector, episode_seed: int, stage_names: Sequence[str],
                video=None) -> dict:
    """One rollout on its own (the reference the lockstep evaluation is tested against). Stops
    at the time limit, or at success (max_stage is final by then, so stopping early changes no
    outcome)."""
    cameras = list(policy.camera_names)
    device = policy_device(policy)
    start = time.perf_counter()
    obs, info = env.reset(seed=int(episode_seed))
    selector.reset()
    max_stage = length = 0
    success = False
    if video is not None:
        video.add(video_frame(env, obs, cameras), 0, 0, 0, force=True)
    done = False
    while not done:
        if selector.needs_query():
            selector.add(query(policy, obs, cameras, device))
        obs, _, terminated, truncated, info = env.step(selector.pop())
        length += 1
        stage, max_stage = int(info["stage"]), max(max_stage, int(info["max_stage"]))
        success = bool(info["is_success"])  # the env decides; the episode ends there
        done = terminated or truncated or success
        if video is not None:
            video.add(video_frame(env, obs, cameras), length, stage, max_stage, force=done)
    if video is not None:
        video.hold()  # show the final state for a moment
    return episode_row(max_stage, success, length, selector.queries, stage_names, start)


