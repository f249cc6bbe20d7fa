"""Command the arms by end-effector pose over the joint-space environment.

`EndEffectorControl` turns grip-site poses into the 14-d joint action the environment takes
(inverse kinematics, warm-started from the last solution so consecutive targets give smooth
joint paths). The scripted demonstrations use it, so what they record is exactly the joint
action the environment executed.
"""
from __future__ import annotations

import numpy as np

from act_bench.sim.poses import quat_from_mat
from act_bench.sim.robot import SIDES, STATE_DIM


class EndEffectorControl:
    """env: the joint-space environment (envs.aloha.AlohaEnv) whose arms it commands."""

    def __init__(self, env):
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
