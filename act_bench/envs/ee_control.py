"""Command the arms by end-effector pose over the joint-space environment.

`EndEffectorControl` turns grip-site poses into the 14-d joint action the environment takes
(inverse kinematics, warm-started from the last solution so consecutive targets give smooth
joint paths). The scripted demonstrations use it, so what they record is exactly the joint
action the environment executed. `EndEffectorActionWrapper` offers the same as a Gymnasium
action space for interactive use.
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from act_bench.envs.aloha import AlohaEnv
from act_bench.sim.poses import quat_from_mat
from act_bench.sim.robot import SIDES, STATE_DIM


class EndEffectorControl:
    def __init__(self, env: AlohaEnv):
        from act_bench.sim.ik import ArmIK  # dm_control: loaded only when an expert runs

        self.env = env
        self.ik = ArmIK(env.task_config.model)
        self._q12: np.ndarray | None = None

    def reset(self) -> None:
        """Warm-start the next solve from the arms' current joints."""
        self._q12 = self.env.data.qpos[self.env.robot.arm_qpos].copy()

    def grip_pose(self, side: str) -> tuple[np.ndarray, np.ndarray]:
        """Current world pose (pos, quat) of an arm's grip site."""
        sid = self.env.robot.grip_site[SIDES.index(side)]
        data = self.env.data
        return data.site_xpos[sid].copy(), quat_from_mat(data.site_xmat[sid])

    def joint_action(self, poses: dict, grippers: dict, posture: dict | None = None) -> np.ndarray:
        """14-d joint action putting each arm's grip site at poses[side] = (pos, quat).

        grippers[side] in [0, 1]. Arms missing from `poses` keep their last joint target.
        posture[side] > 0: the IK's pull of the wrist rolls towards 0 (ArmIK.solve).
        """
        if self._q12 is None:
            self.reset()
        for side, (pos, quat) in poses.items():
            i = SIDES.index(side)
            weight = (posture or {}).get(side, 0.0)
            self._q12[6 * i : 6 * i + 6] = self.ik.solve(side, self._q12, pos, quat, posture_weight=weight)
        action = np.empty(STATE_DIM)
        for i, side in enumerate(SIDES):
            action[7 * i : 7 * i + 6] = self._q12[6 * i : 6 * i + 6]
            action[7 * i + 6] = grippers[side]
        return action


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
