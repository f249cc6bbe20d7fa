"""The bounds: methods that need no training, scored through the same evaluator on the same
evaluation starts as the learned ones, so every results table says what 100% and 0% look like.

- scripted (upper bound): the task's scripted expert, the demonstrator itself. Each episode it
  plans from the layout of that episode's start, as the demonstrations are recorded
  (demos.recorder): its own copy of the task's env reset with the episode's seed (the layout is
  a function of the seed, which is what makes evaluation starts the same for every method) and
  the expert run on it with noise 0. Its actions are those a demonstration of that start would
  record, and the harness must score them as the demonstrations scored.
- still (lower bound): holds the arms at their start posture (the env's initial joint targets)
  for the whole episode.
- random (lower bound): joint targets drawn uniformly within the action bounds every step, from
  a generator seeded with the episode's seed.

Each plans a whole episode at its first query (chunk = the episode's length, run open-loop) and
reads the episode's seed and step (rollout: `episode_aware`), as an expert reads the simulator.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from act_bench.errors import ActBenchError
from act_bench.policies.registry import register_bound
from act_bench.sim import STATE_DIM
from act_bench.tasks.registry import get_task

START_TOLERANCE = 1e-5  # the observed start qpos (float32) against the planning copy's


class EpisodePlanPolicy:
    """A rollout.ChunkPolicy that plans each episode whole from its seed; subclasses say how
    (plan). It reads no cameras, so its evaluation renders only the videos."""

    episode_aware = True  # predict_chunk also takes each queried episode's seed and step
    camera_names: tuple[str, ...] = ()

    def __init__(self, task: str):
        config = get_task(task).config()
        self.task = task
        self.chunk_size = int(config.episode_len)
        self.image_size = tuple(int(v) for v in config.image_size)
        self._plans: dict[int, np.ndarray] = {}  # seed -> (episode_len, 14), while its episode runs

    def eval(self):
        return self

    def predict_chunk(self, qpos, images, seeds: Sequence[int] = (), steps: Sequence[int] = ()) -> np.ndarray:
        """(B, episode_len, 14): each episode's plan from its step on (the last action held after its end)."""
        if len(seeds) != len(qpos) or len(steps) != len(qpos):
            raise ValueError(f"{type(self).__name__} needs each queried episode's seed and step")
        out = np.empty((len(qpos), self.chunk_size, STATE_DIM))
        for b, (q, seed, step) in enumerate(zip(qpos, seeds, steps)):
            seed, step = int(seed), int(step)
            if step == 0 or seed not in self._plans:
                self._plans[seed] = self._checked_plan(seed, np.asarray(q, dtype=np.float64), step)
            plan = self._plans[seed]
            rows = np.minimum(np.arange(step, step + self.chunk_size), len(plan) - 1)
            out[b] = plan[rows]
        return out

    def _checked_plan(self, seed: int, qpos: np.ndarray, step: int) -> np.ndarray:
        plan = np.asarray(self.plan(seed, qpos if step == 0 else None), dtype=np.float64)
        if plan.shape != (self.chunk_size, STATE_DIM) or not np.all(np.isfinite(plan)):
            raise ActBenchError(f"{type(self).__name__} planned {plan.shape} actions for {self.task}, expected "
                                f"({self.chunk_size}, {STATE_DIM}) finite ones")
        return plan

    def plan(self, seed: int, start_qpos: np.ndarray | None) -> np.ndarray:
        """The episode's (episode_len, 14) joint targets; start_qpos: the evaluation env's
        observed robot joints at the start (None when the first query was missed)."""
        raise NotImplementedError


def _planning_env(task: str):
    """The task's env without cameras or rendering: reset with a seed, it holds that start's layout."""
    from act_bench.envs.aloha import AlohaEnv  # MuJoCo: loaded when a bound is evaluated

    return AlohaEnv(task, cameras=())


class ScriptedBound(EpisodePlanPolicy):
    """The task's scripted expert (TaskSpec.expert), planned on the start the episode's seed gives."""

    def __init__(self, task: str):
        super().__init__(task)
        self._env = None

    def plan(self, seed: int, start_qpos: np.ndarray | None) -> np.ndarray:
        if self._env is None:
            self._env = _planning_env(self.task)
        obs, _ = self._env.reset(seed=seed)
        if start_qpos is not None and not np.allclose(obs["qpos"], start_qpos, atol=START_TOLERANCE):
            raise ActBenchError(f"the scripted expert's start of {self.task} seed {seed} is not the evaluation env's "
                                "(its robot joints differ): the env was made with other settings than the task's")
        # as demos.recorder records a scripted demonstration: noise 0, the expert's stream from the seed
        expert = get_task(self.task).expert(self._env, rng=np.random.default_rng(seed), noise=0.0)
        expert.reset()
        return np.stack([expert() for _ in range(self.chunk_size)])


class StillBound(EpisodePlanPolicy):
    """The arms held at the env's initial joint targets (sim.robot.start_qpos) throughout."""

    def plan(self, seed: int, start_qpos: np.ndarray | None) -> np.ndarray:
        from act_bench.sim.robot import start_qpos as initial_targets  # MuJoCo

        return np.tile(initial_targets(), (self.chunk_size, 1))


class RandomBound(EpisodePlanPolicy):
    """Joint targets uniform within the env's action bounds, a new draw each step, seeded by the episode."""

    def __init__(self, task: str):
        super().__init__(task)
        self._bounds = None

    def plan(self, seed: int, start_qpos: np.ndarray | None) -> np.ndarray:
        if self._bounds is None:
            env = _planning_env(self.task)
            self._bounds = (env.action_space.low.astype(np.float64), env.action_space.high.astype(np.float64))
            env.close()
        low, high = self._bounds
        return np.random.default_rng(seed).uniform(low, high, size=(self.chunk_size, STATE_DIM))


register_bound("scripted", ScriptedBound, "upper",
               "the task's scripted expert (the demonstrator), planned from each evaluation start's layout")
register_bound("still", StillBound, "lower", "the arms held at their start posture for the whole episode")
register_bound("random", RandomBound, "lower",
               "joint targets uniform within the action bounds each step, seeded by the episode's seed")
