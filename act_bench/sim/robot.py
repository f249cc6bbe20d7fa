"""The bimanual ALOHA as policies see it: 14-d joint vectors and a normalised gripper.

Vector layout (state and action): [left 6 joints, left gripper, right 6 joints, right gripper].
The gripper is one number per arm in [0, 1] (0 closed, 1 open), normalised from the left
finger's position with the constants of the original ACT release.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from act_bench.sim import STATE_DIM  # noqa: F401  (importing act_bench.sim sets MUJOCO_GL)
import mujoco

from act_bench.storage.paths import assets_dir

SIDES = ("left", "right")
ARM_JOINTS = ("waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate")
GRIPPER_CLOSED = 0.01844  # finger position (m) that normalises to 0
GRIPPER_OPEN = 0.05800  # ... and to 1
START_ARM_QPOS = np.array([0.0, -0.96, 1.16, 0.0, -0.3, 0.0])
START_FINGER = 0.02239


def gripper_normalize(finger_pos):
    return (np.asarray(finger_pos) - GRIPPER_CLOSED) / (GRIPPER_OPEN - GRIPPER_CLOSED)


def gripper_unnormalize(g):
    return GRIPPER_CLOSED + np.asarray(g) * (GRIPPER_OPEN - GRIPPER_CLOSED)


def load_model(filename: str) -> mujoco.MjModel:
    """Compile an MJCF file from assets/."""
    path = Path(assets_dir()) / filename
    return mujoco.MjModel.from_xml_path(str(path))


def recolor_arms(model: mujoco.MjModel, rgba) -> None:
    """Draw every geom of both arms (names "left/..." and "right/...") in one colour."""
    for g in range(model.ngeom):
        if model.geom(g).name.startswith(tuple(f"{s}/" for s in SIDES)) or _in_arm(model, g):
            model.geom_rgba[g] = rgba


def _in_arm(model: mujoco.MjModel, geom: int) -> bool:
    """Unnamed geoms belong to an arm when their body does."""
    return model.body(model.geom_bodyid[geom]).name.startswith(tuple(f"{s}/" for s in SIDES))


@dataclass(frozen=True)
class RobotIndex:
    """Addresses of the robot's joints and actuators inside one compiled model."""

    arm_qpos: np.ndarray  # (12,) qpos addresses of both arms' joints, left then right
    arm_dof: np.ndarray  # (12,) dof addresses
    finger_qpos: np.ndarray  # (2, 2) [side, (left finger, right finger)]
    finger_dof: np.ndarray  # (2, 2)
    ctrl_low: np.ndarray  # (14,) actuator ctrl range
    ctrl_high: np.ndarray
    grip_site: tuple[int, int]  # site ids of the grip point, left and right
    pad_geoms: tuple[frozenset, frozenset]  # finger pad geom ids, left arm and right arm
    arm_joint_names: tuple[tuple[str, ...], tuple[str, ...]]

    @classmethod
    def from_model(cls, model: mujoco.MjModel) -> "RobotIndex":
        jid = lambda n: mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, n)  # noqa: E731
        names = tuple(tuple(f"{s}/{j}" for j in ARM_JOINTS) for s in SIDES)
        arm = [jid(n) for side in names for n in side]
        fingers = [[jid(f"{s}/left_finger"), jid(f"{s}/right_finger")] for s in SIDES]
        if min(arm + sum(fingers, [])) < 0:
            raise ValueError("model lacks the ALOHA joints")
        gid = lambda n: mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, n)  # noqa: E731
        return cls(
            arm_qpos=model.jnt_qposadr[arm].copy(),
            arm_dof=model.jnt_dofadr[arm].copy(),
            finger_qpos=model.jnt_qposadr[np.array(fingers)].copy(),
            finger_dof=model.jnt_dofadr[np.array(fingers)].copy(),
            ctrl_low=model.actuator_ctrlrange[:, 0].copy(),
            ctrl_high=model.actuator_ctrlrange[:, 1].copy(),
            grip_site=tuple(mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, f"{s}/grip") for s in SIDES),
            pad_geoms=tuple(frozenset((gid(f"{s}/left_pad"), gid(f"{s}/right_pad"))) for s in SIDES),
            arm_joint_names=names,
        )

    # --- 14-d state ---------------------------------------------------------------
    def qpos(self, data: mujoco.MjData) -> np.ndarray:
        out = np.empty(STATE_DIM)
        for i in range(2):
            out[7 * i : 7 * i + 6] = data.qpos[self.arm_qpos[6 * i : 6 * i + 6]]
            out[7 * i + 6] = gripper_normalize(data.qpos[self.finger_qpos[i, 0]])
        return out

    def qvel(self, data: mujoco.MjData) -> np.ndarray:
        out = np.empty(STATE_DIM)
        for i in range(2):
            out[7 * i : 7 * i + 6] = data.qvel[self.arm_dof[6 * i : 6 * i + 6]]
            out[7 * i + 6] = data.qvel[self.finger_dof[i, 0]] / (GRIPPER_OPEN - GRIPPER_CLOSED)
        return out

    def set_qpos(self, data: mujoco.MjData, q14: np.ndarray) -> None:
        """Place both arms (joints and fingers) at a 14-d state; velocities are zeroed."""
        for i in range(2):
            data.qpos[self.arm_qpos[6 * i : 6 * i + 6]] = q14[7 * i : 7 * i + 6]
            finger = gripper_unnormalize(q14[7 * i + 6])
            data.qpos[self.finger_qpos[i]] = (finger, -finger)
        data.qvel[self.arm_dof] = 0.0
        data.qvel[self.finger_dof.ravel()] = 0.0

    def action_to_ctrl(self, action: np.ndarray) -> np.ndarray:
        """14-d action (absolute joint targets, gripper in [0, 1]) to actuator controls."""
        ctrl = np.array(action, dtype=np.float64)
        ctrl[[6, 13]] = gripper_unnormalize(ctrl[[6, 13]])
        return np.clip(ctrl, self.ctrl_low, self.ctrl_high)

    def action_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        low, high = self.ctrl_low.copy(), self.ctrl_high.copy()
        low[[6, 13]], high[[6, 13]] = 0.0, 1.0
        return low, high


def start_qpos() -> np.ndarray:
    """The 14-d start pose of both arms."""
    g = float(gripper_normalize(START_FINGER))
    return np.concatenate([START_ARM_QPOS, [g], START_ARM_QPOS, [g]])
