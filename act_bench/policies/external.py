"""Any policy, evaluated: the small interface a policy from outside act-bench offers.

`act-bench eval --policy module:factory [--policy-arg KEY=VALUE ...]` calls factory(**args) (or,
with a plain NAME, the factory a plugin registered with `register_agent`) and evaluates what it
returns. That object has, all optional unless said:

    name           the method name in the results (default "external")
    camera_names   cameras it reads, in order (default: the task's)
    image_size     (H, W) of its frames (default: the task's)
    obs_type       the layout act() gets: "default" {"qpos", "qvel", "images": {cam}}, or gym-aloha's
                   "pixels" / "pixels_agent_pos" (default "default"; see act_bench.envs.aloha)
    reset()        a new episode starts
and one of
    act(observation) -> 14 actions     one action per control step; may keep state between steps
                                       (LeRobot's select_action does); evaluated one episode at a time
    chunk_size + predict_chunk(qpos, images) -> (B, k, 14)
                                       act_bench.evaluation.rollout.ChunkPolicy: batched, stateless; run open-loop
                                       (n_action_steps per query, default all k) or, with
                                       execution = "ensemble", with temporal ensembling; with
                                       obs_history = n > 1 it gets its last n observations
                                       (act_bench.policies.base.Policy.predict_chunk)

Actions are ACT's 14 absolute joint targets (left arm 6 + gripper, right arm 6 + gripper).
"""
from __future__ import annotations

import importlib
from typing import Any, Callable

import gymnasium as gym
import numpy as np

from act_bench.envs.aloha import OBS_TYPES, format_observation
from act_bench.errors import ActBenchError
from act_bench.policies.registry import get_agent
from act_bench.sim import STATE_DIM


def parse_policy_args(pairs) -> dict[str, str]:
    """["checkpoint=path", ...] -> {"checkpoint": "path"} (values stay strings)."""
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ActBenchError(f"--policy-arg must be KEY=VALUE, got {pair!r}")
        out[key.strip()] = value
    return out


def resolve_factory(spec: str) -> Callable[..., Any]:
    """'package.module:function' -> the function; a plain name -> the factory a plugin registered."""
    if ":" not in spec:
        return get_agent(spec)
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ActBenchError(f"--policy {spec}: cannot import {module_name!r}: {exc}") from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise ActBenchError(f"--policy {spec}: {module_name} has no callable {attr!r}")
    return factory


def load_external(spec: str, kwargs: dict | None = None):
    factory = resolve_factory(spec)
    try:
        return factory(**(kwargs or {}))
    except ActBenchError:
        raise
    except Exception as exc:  # whatever the third-party factory raises, as one line
        raise ActBenchError(f"--policy {spec}: the factory failed: {type(exc).__name__}: "
                            f"{' '.join(str(exc).split())[:300]}") from None


class ExternalPolicy:
    """An external policy as act-bench's evaluator sees it (a ChunkPolicy), plus what evaluating it
    needs: the method's execution mode and how many episodes may run side by side."""

    def __init__(self, policy, task_config):
        self.policy = policy
        self.name = str(getattr(policy, "name", None) or "external")
        self.camera_names = tuple(getattr(policy, "camera_names", None) or task_config.cameras)
        self.image_size = tuple(int(v) for v in (getattr(policy, "image_size", None) or task_config.image_size))
        self.obs_type = getattr(policy, "obs_type", "default")
        if self.obs_type not in OBS_TYPES:
            raise ActBenchError(f"policy {self.name}: obs_type must be one of {', '.join(OBS_TYPES)}, "
                                f"got {self.obs_type!r}")
        self.steps = callable(getattr(policy, "act", None))
        if self.steps:
            self.chunk_size, self.execution, self.max_batch = 1, "single", 1  # stateful: one episode at a time
        elif callable(getattr(policy, "predict_chunk", None)) and getattr(policy, "chunk_size", None):
            self.chunk_size = int(policy.chunk_size)
            self.obs_history = int(getattr(policy, "obs_history", 1) or 1)
            self.execution = getattr(policy, "execution", "open_loop")
            self.max_batch = None
        else:
            raise ActBenchError(f"policy {self.name} ({type(policy).__name__}) has neither act(observation) "
                                "nor chunk_size and predict_chunk(qpos, images)")
        self._obs = None

    # --- ChunkPolicy -----------------------------------------------------------------
    def eval(self):
        if callable(getattr(self.policy, "eval", None)):
            self.policy.eval()
        return self

    def parameters(self):  # the evaluator puts tensors on the policy's device
        params = getattr(self.policy, "parameters", None)
        return params() if callable(params) else iter(())

    def predict_chunk(self, qpos, images):
        if not self.steps:
            return self.policy.predict_chunk(qpos, images)
        action = np.asarray(self._as_numpy(self.policy.act(format_observation(self._obs, self.obs_type))),
                            dtype=np.float64).reshape(-1)
        if action.shape != (STATE_DIM,):
            raise ActBenchError(f"policy {self.name}: act() returned {action.shape[0]} values, expected {STATE_DIM}")
        return action.reshape(1, 1, STATE_DIM)

    @staticmethod
    def _as_numpy(value):
        detach = getattr(value, "detach", None)
        return detach().cpu().numpy() if callable(detach) else value

    # --- episode hooks (through wrap_env) ---------------------------------------------
    def begin_episode(self, obs) -> None:
        self._obs = obs
        if callable(getattr(self.policy, "reset", None)):
            self.policy.reset()

    def observe(self, obs) -> None:
        self._obs = obs

    def wrap_env(self, env):
        return _EpisodeHooks(env, self)


class _EpisodeHooks(gym.Wrapper):
    """Tells the policy when an episode starts and what the env observed (act() gets the full
    observation, qvel included, not only the evaluator's qpos and frames)."""

    def __init__(self, env, policy: ExternalPolicy):
        super().__init__(env)
        self._policy = policy

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self._policy.begin_episode(obs)
        return obs, info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._policy.observe(obs)
        return obs, reward, terminated, truncated, info
