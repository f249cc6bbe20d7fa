"""Inverse kinematics for one arm's grip site, via dm_control's damped least squares.

dm_control's `qpos_from_site_pose` is a well-tested DLS solver on MuJoCo Jacobians; it works
on its own Physics, so we keep a private copy of the model for kinematics only and sync the
arm joints into it before each solve.
"""
from __future__ import annotations

import numpy as np

import act_bench.sim  # noqa: F401  (sets MUJOCO_GL)
from dm_control import mujoco as dm_mujoco
from dm_control.utils import inverse_kinematics

from act_bench.paths import assets_dir
from act_bench.sim.robot import SIDES, RobotIndex


class ArmIK:
    """Solves joint angles that put an arm's grip site at a world position and orientation."""

    def __init__(self, model_file: str):
        self.physics = dm_mujoco.Physics.from_xml_path(str(assets_dir() / model_file))
        self.index = RobotIndex.from_model(self.physics.model.ptr)

    def solve(self, side: str, seed_q12: np.ndarray, pos, quat, tol: float = 1e-10,
              reach_tol: float = 2e-3) -> np.ndarray:
        """Return the 6 joint angles of `side` reaching (pos, quat), starting from `seed_q12`.

        `seed_q12` holds both arms' 6 joints (left then right); the solution for the other
        arm is not touched. A pose missed by under `reach_tol` (near a singularity the solver
        can stall a fraction of a millimetre short) returns the best solution found; a pose
        missed by more raises ValueError (out of reach).
        """
        i = SIDES.index(side)
        qpos = self.physics.data.qpos
        qpos[self.index.arm_qpos] = seed_q12
        result = inverse_kinematics.qpos_from_site_pose(
            self.physics,
            f"{side}/grip",
            target_pos=np.asarray(pos, dtype=float),
            target_quat=np.asarray(quat, dtype=float),
            joint_names=list(self.index.arm_joint_names[i]),
            tol=tol,
            max_steps=100,
            inplace=True,
        )
        if not result.success and result.err_norm > reach_tol:
            raise ValueError(f"{side} arm cannot reach pos={np.round(pos, 3)} (error {result.err_norm:.2g})")
        return result.qpos[self.index.arm_qpos[6 * i : 6 * i + 6]].copy()
