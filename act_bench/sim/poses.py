"""Small rigid-transform helpers: poses are (position (3,), quaternion (4,) wxyz)."""
from __future__ import annotations

import numpy as np

import act_bench.sim  # noqa: F401
import mujoco


def quat_from_mat(mat) -> np.ndarray:
    q = np.empty(4)
    mujoco.mju_mat2Quat(q, np.asarray(mat, dtype=float).ravel())
    return q


def mat_from_quat(q) -> np.ndarray:
    m = np.empty(9)
    mujoco.mju_quat2Mat(m, np.asarray(q, dtype=float))
    return m.reshape(3, 3)


def quat_mul(a, b) -> np.ndarray:
    out = np.empty(4)
    mujoco.mju_mulQuat(out, np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    return out


def quat_inv(q) -> np.ndarray:
    q = np.asarray(q, dtype=float)
    return np.array([q[0], -q[1], -q[2], -q[3]]) / np.dot(q, q)


def rotate(q, v) -> np.ndarray:
    out = np.empty(3)
    mujoco.mju_rotVecQuat(out, np.asarray(v, dtype=float), np.asarray(q, dtype=float))
    return out


def compose(a: tuple, b: tuple) -> tuple:
    """a * b: pose b expressed in frame a, mapped to the world."""
    return a[0] + rotate(a[1], b[0]), quat_mul(a[1], b[1])


def inverse(a: tuple) -> tuple:
    qi = quat_inv(a[1])
    return -rotate(qi, a[0]), qi


def relative(a: tuple, b: tuple) -> tuple:
    """Pose of b in the frame of a."""
    return compose(inverse(a), b)


def slerp(q0, q1, t: float) -> np.ndarray:
    q0, q1 = np.asarray(q0, dtype=float), np.asarray(q1, dtype=float)
    dot = float(np.dot(q0, q1))
    if dot < 0.0:  # take the short way round
        q1, dot = -q1, -dot
    if dot > 0.9995:
        q = q0 + t * (q1 - q0)
        return q / np.linalg.norm(q)
    theta = np.arccos(dot)
    return (np.sin((1 - t) * theta) * q0 + np.sin(t * theta) * q1) / np.sin(theta)


def yaw_quat(yaw: float) -> np.ndarray:
    return np.array([np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)])


# Gripper orientations in the world (gripper x = pointing direction, y = finger travel).
# Top-down: pointing at the table, fingers closing along the world y axis.
TOP_DOWN = {
    "left": quat_from_mat([[0, 0, 1], [0, 1, 0], [-1, 0, 0]]),
    "right": quat_from_mat([[0, 0, -1], [0, -1, 0], [-1, 0, 0]]),
}
# Level: pointing at the other arm, fingers closing along the world y axis.
LEVEL = {"left": np.array([1.0, 0, 0, 0]), "right": yaw_quat(np.pi)}


def axis_angle_quat(axis, degrees: float) -> np.ndarray:
    """Rotation by `degrees` about the unit vector `axis` (right-hand rule)."""
    axis = np.asarray(axis, dtype=float) / np.linalg.norm(axis)
    half = np.deg2rad(degrees) / 2
    return np.array([np.cos(half), *(np.sin(half) * axis)])


def world_rotated(q, axis, degrees: float) -> np.ndarray:
    """Orientation q turned by `degrees` about a world axis."""
    return quat_mul(axis_angle_quat(axis, degrees), q)


# The original ACT expert's orientations. Its mocap starts level (identity), so "from the
# start orientation" means from LEVEL, turned about world axes:
# pitched 60 degrees down (left +60, right -60 about world y), for top-side grasps;
PITCHED = {"left": world_rotated(LEVEL["left"], (0, 1, 0), 60.0),
           "right": world_rotated(LEVEL["right"], (0, 1, 0), -60.0)}
# the left hand rolled 90 degrees about world x, fingers closing along z (cube hand-over).
ROLLED_LEFT = world_rotated(LEVEL["left"], (1, 0, 0), 90.0)
