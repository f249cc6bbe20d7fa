"""Inverse kinematics for one arm's grip site, via dm_control's damped least squares.

dm_control's `qpos_from_site_pose` is a well-tested DLS solver on MuJoCo Jacobians; it works
on its own Physics, so we keep a private copy of the model for kinematics only and sync the
arm joints into it before each solve.

The wrist is roll-pitch-roll (forearm_roll, wrist_angle, wrist_rotate): where wrist_angle
passes near 0 the two rolls act about the same axis, and plain DLS may wander along that
null space or jump to the mirrored solution (roll + pi, -pitch, rotate - pi), which the
position servos then follow by swinging the hand round for a second or more. So each
solution is (1) replaced by its mirror when that lies closer to the seed, and (2) nudged
along the null space of the arm's Jacobian towards forearm_roll = 0 and re-solved, which
leaves the grip pose unchanged.

Neither helps where the wrist must straighten (wrist_angle through 0) while the waist has
turned: there an exact solution needs a roll that grows without bound, and the solver follows
it round to the mirrored wrist. `posture_weight` > 0 solves instead a least-squares problem
that also pulls forearm_roll and wrist_rotate towards 0 with that weight, trading a little
pose error for a wrist that crosses straight on the unrolled side (the -v3 experts fade it
out over the approach, see scripted.expert).
"""
from __future__ import annotations

import numpy as np

import act_bench.sim  # noqa: F401  (sets MUJOCO_GL)
from dm_control import mujoco as dm_mujoco
from dm_control.utils import inverse_kinematics
import mujoco

from act_bench.storage.paths import assets_dir
from act_bench.sim.robot import SIDES, RobotIndex

# _settle_roll: the share of forearm_roll removed per step, and the null-space damping
ROLL_GAIN, ROLL_DAMPING = 0.3, 0.05


class ArmIK:
    """Solves joint angles that put an arm's grip site at a world position and orientation."""

    def __init__(self, model_file: str):
        self.physics = dm_mujoco.Physics.from_xml_path(str(assets_dir() / model_file))
        self.index = RobotIndex.from_model(self.physics.model.ptr)
        model = self.physics.model.ptr
        self._site = {s: mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, f"{s}/grip") for s in SIDES}
        jids = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, n) for side in self.index.arm_joint_names for n in side]
        self._range = model.jnt_range[jids].copy()  # (12, 2)

    def solve(self, side: str, seed_q12: np.ndarray, pos, quat, tol: float = 1e-10,
              reach_tol: float = 2e-3, posture_weight: float = 0.0) -> np.ndarray:
        """Return the 6 joint angles of `side` reaching (pos, quat), starting from `seed_q12`.

        `seed_q12` holds both arms' 6 joints (left then right); the solution for the other
        arm is not touched. A pose missed by under `reach_tol` (near a singularity the solver
        can stall a fraction of a millimetre short) returns the best solution found; a pose
        missed by more raises ValueError (out of reach).
        """
        i = SIDES.index(side)
        seed_q12 = np.asarray(seed_q12, dtype=float)
        if posture_weight > 0:
            return self._with_posture(side, seed_q12, pos, quat, posture_weight)
        seed6 = seed_q12[6 * i : 6 * i + 6]
        q6, err = self._dls(side, seed_q12, pos, quat, tol)
        q6 = self._nearest(i, q6, seed6)
        q6, err = self._settle_roll(side, seed_q12, q6, pos, quat, tol, err)
        q6 = self._nearest(i, q6, seed6)
        if err > reach_tol:
            raise ValueError(f"{side} arm cannot reach pos={np.round(pos, 3)} (error {err:.2g})")
        return q6

    def _dls(self, side, q12, pos, quat, tol) -> tuple[np.ndarray, float]:
        i = SIDES.index(side)
        self.physics.data.qpos[self.index.arm_qpos] = q12
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
        err = 0.0 if result.success else float(result.err_norm)
        return result.qpos[self.index.arm_qpos[6 * i : 6 * i + 6]].copy(), err

    def _with_posture(self, side, q12, pos, quat, weight: float, iterations: int = 100) -> np.ndarray:
        """Gauss-Newton on the grip site's pose error plus `weight` x (forearm_roll,
        wrist_rotate), within the joint limits. No reach check: the pose is met only as closely
        as the posture term allows (it fades to 0 before any pose that matters)."""
        i = SIDES.index(side)
        model, data = self.physics.model.ptr, self.physics.data.ptr
        data.qpos[self.index.arm_qpos] = q12
        arm = self.index.arm_qpos[6 * i : 6 * i + 6]
        dofs = self.index.arm_dof[6 * i : 6 * i + 6]
        lo, hi = self._range[6 * i : 6 * i + 6].T
        rolls = np.zeros((2, 6))
        rolls[0, 3] = rolls[1, 5] = weight
        jacp, jacr = np.zeros((3, model.nv)), np.zeros((3, model.nv))
        now, inverse, turn, rot_err = np.empty(4), np.empty(4), np.empty(4), np.empty(3)
        for _ in range(iterations):
            mujoco.mj_kinematics(model, data)
            mujoco.mj_comPos(model, data)
            site = self._site[side]
            mujoco.mju_mat2Quat(now, data.site_xmat[site])
            mujoco.mju_negQuat(inverse, now)
            mujoco.mju_mulQuat(turn, np.asarray(quat, dtype=float), inverse)
            mujoco.mju_quat2Vel(rot_err, turn, 1.0)
            mujoco.mj_jacSite(model, data, jacp, jacr, site)
            q = data.qpos[arm].copy()
            lhs = np.vstack([jacp[:, dofs], jacr[:, dofs], rolls])
            rhs = np.concatenate([np.asarray(pos, dtype=float) - data.site_xpos[site], rot_err, -rolls @ q])
            step = np.linalg.lstsq(lhs, rhs, rcond=None)[0]
            data.qpos[arm] = np.clip(q + step, lo, hi)
            if np.linalg.norm(step) < 1e-10:
                break
        return data.qpos[arm].copy()

    def _nearest(self, i: int, q6: np.ndarray, seed6: np.ndarray) -> np.ndarray:
        mirrored = self._mirror(i, q6)
        if mirrored is not None and np.linalg.norm(mirrored - seed6) < np.linalg.norm(q6 - seed6):
            return mirrored
        return q6

    def _mirror(self, i: int, q6: np.ndarray) -> np.ndarray | None:
        """The same hand pose with the wrist mirrored: (roll + pi, -pitch, rotate - pi)."""
        m = q6.copy()
        m[3] = (q6[3] + 2 * np.pi) % (2 * np.pi) - np.pi
        m[4] = -q6[4]
        m[5] = (q6[5] + 2 * np.pi) % (2 * np.pi) - np.pi
        lo, hi = self._range[6 * i : 6 * i + 6].T
        return m if np.all(m >= lo) and np.all(m <= hi) else None

    def _settle_roll(self, side, seed_q12, q6, pos, quat, tol, err) -> tuple[np.ndarray, float]:
        """Move forearm_roll towards 0 along the Jacobian's (damped) null space, re-solve."""
        if abs(q6[3]) < 1e-6:
            return q6, err
        i = SIDES.index(side)
        physics = self.physics
        q12 = np.array(seed_q12, dtype=float)
        q12[6 * i : 6 * i + 6] = q6
        physics.data.qpos[self.index.arm_qpos] = q12
        model, data = physics.model.ptr, physics.data.ptr
        mujoco.mj_kinematics(model, data)
        mujoco.mj_comPos(model, data)
        jacp, jacr = np.zeros((3, model.nv)), np.zeros((3, model.nv))
        mujoco.mj_jacSite(model, data, jacp, jacr, self._site[side])
        dofs = self.index.arm_dof[6 * i : 6 * i + 6]
        J = np.vstack([jacp[:, dofs], jacr[:, dofs]])
        null = ROLL_DAMPING**2 * np.linalg.inv(J.T @ J + ROLL_DAMPING**2 * np.eye(6))
        step = null @ np.array([0, 0, 0, -ROLL_GAIN * q6[3], 0, 0])
        if np.linalg.norm(step) < 1e-6:
            return q6, err
        q12[6 * i : 6 * i + 6] = q6 + step
        q6b, errb = self._dls(side, q12, pos, quat, tol)
        return (q6b, errb) if errb <= max(err, 1e-4) else (q6, err)
