"""`EndEffectorActionWrapper`: the environment with an end-effector pose action space, for
interactive use (sim/ee_control.py's EndEffectorControl, as the scripted demonstrations use)."""
from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from act_bench.sim.ee_control import EndEffectorControl


class EndEffectorActionWrapper(gym.ActionWrapper):
    """Action: [left pos(3), quat(4), grip(1), right pos(3), quat(4), grip(1)] (16-d).

    info["joint_action"] after each step holds the joint action that was executed.
    """

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self.control = EndEffectorControl(env.unwrapped)
        low = np.full(16, -np.inf, dtype=np.float32)
        high = np.full(16, np.inf, dtype=np.float32)
        low[[7, 15]], high[[7, 15]] = 0.0, 1.0
        self.action_space = spaces.Box(low, high, dtype=np.float32)
        self._last = None

    def reset(self, **kwargs):
        out = self.env.reset(**kwargs)
        self.control.reset()
        return out

    def action(self, action):
        a = np.asarray(action, dtype=float)
        poses = {"left": (a[0:3], a[3:7]), "right": (a[8:11], a[11:15])}
        self._last = self.control.joint_action(poses, {"left": a[7], "right": a[15]})
        return self._last

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        info["joint_action"] = self._last
        return obs, reward, terminated, truncated, info
