"""Run the original ACT release's end-effector expert from its own files, on any MuJoCo.

Nothing of the release is committed here: pass the path of a checkout of it
(github.com/tonyzhaozh/act) as --release. Its end-effector models (assets/
bimanual_viperx_ee_*.xml) load in MuJoCo 2.3.7 (the version its README pins) and in current
MuJoCo; this module steps their mocap bodies along the release's waypoints (scripted_policy.py:
linear interpolation of position, quaternion and gripper; 10 physics steps of 2 ms per 20 ms
control step, ordered as dm_control's legacy Physics.step orders them), with the release's
reset (ee_sim_env.py: START_ARM_POSE, mocap poses, closed grippers, objects placed at
z = 0.05). It needs only mujoco and numpy, so it also runs in the MuJoCo 2.3.7 side venv that
scripts/release_venv.sh builds. scripts/release_measure.py measures the release with it;
scripts/fidelity_check.py and fidelity_render.py compare it with our tasks.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

os.environ.setdefault("MUJOCO_GL", "egl")  # before mujoco loads: headless rendering
import mujoco  # noqa: E402

START_ARM_POSE = [0, -0.96, 1.16, 0, -0.3, 0, 0.02239, -0.02239, 0, -0.96, 1.16, 0, -0.3, 0, 0.02239, -0.02239]
MOCAP_START = {"left": ([-0.31718881, 0.5, 0.29525084], [1, 0, 0, 0]),
               "right": ([0.31718881, 0.49999888, 0.29525084], [1, 0, 0, 0])}
GRIP_OPEN, GRIP_CLOSED = 0.05800, 0.01844  # PUPPET_GRIPPER_POSITION_OPEN / CLOSE
EE_MODELS = {"transfer_cube": "bimanual_viperx_ee_transfer_cube.xml",
             "insertion": "bimanual_viperx_ee_insertion.xml"}
JOINT_MODELS = {"transfer_cube": "bimanual_viperx_transfer_cube.xml",
                "insertion": "bimanual_viperx_insertion.xml"}
OBJECT_JOINTS = {"transfer_cube": {"cube": "red_box_joint"},
                 "insertion": {"peg": "red_peg_joint", "socket": "blue_socket_joint"}}
OBJECT_GEOMS = {"cube": "red_box", "peg": "red_peg", "socket": "socket-1"}


def _axis_quat(axis, degrees):
    half = np.deg2rad(degrees) / 2
    return np.array([np.cos(half), *(np.sin(half) * np.asarray(axis, float))])


def _qmul(a, b):
    out = np.empty(4)
    mujoco.mju_mulQuat(out, np.asarray(a, float), np.asarray(b, float))
    return out


def expert_waypoints(task: str, objects: dict[str, np.ndarray]) -> dict[str, list[tuple]]:
    """The release's waypoints (t, xyz, quat, gripper) per side, from the objects' t = 0 poses."""
    init = {s: (np.array(p, float), np.array(q, float)) for s, (p, q) in MOCAP_START.items()}
    if task == "transfer_cube":
        box = objects["cube"][:3]
        pick = _qmul(init["right"][1], _axis_quat([0, 1, 0], -60))
        meet_left = _axis_quat([1, 0, 0], 90)
        meet = np.array([0, 0.5, 0.25])
        left = [(0, *init["left"], 0), (100, meet + [-0.1, 0, -0.02], meet_left, 1),
                (260, meet + [0.02, 0, -0.02], meet_left, 1), (310, meet + [0.02, 0, -0.02], meet_left, 0),
                (360, meet + [-0.1, 0, -0.02], np.array([1.0, 0, 0, 0]), 0),
                (400, meet + [-0.1, 0, -0.02], np.array([1.0, 0, 0, 0]), 0)]
        right = [(0, *init["right"], 0), (90, box + [0, 0, 0.08], pick, 1), (130, box + [0, 0, -0.015], pick, 1),
                 (170, box + [0, 0, -0.015], pick, 0), (200, meet + [0.05, 0, 0], pick, 0), (220, meet, pick, 0),
                 (310, meet, pick, 1), (360, meet + [0.1, 0, 0], pick, 1), (400, meet + [0.1, 0, 0], pick, 1)]
        return {"left": left, "right": right}
    peg, socket = objects["peg"][:3], objects["socket"][:3]
    pick_r = _qmul(init["right"][1], _axis_quat([0, 1, 0], -60))
    pick_l = _qmul(init["right"][1], _axis_quat([0, 1, 0], 60))  # the release uses the right's start quat
    meet, lift = np.array([0, 0.5, 0.15]), 0.00715

    def arm(obj, quat, meet_out, meet_in):
        start = init["left"] if quat is pick_l else init["right"]
        return [(0, *start, 0), (120, obj + [0, 0, 0.08], quat, 1), (170, obj + [0, 0, -0.03], quat, 1),
                (220, obj + [0, 0, -0.03], quat, 0), (285, meet_out, quat, 0), (340, meet_in, quat, 0),
                (400, meet_in, quat, 0)]
    return {"left": arm(socket, pick_l, meet + [-0.1, 0, 0], meet + [-0.05, 0, 0]),
            "right": arm(peg, pick_r, meet + [0.1, 0, lift], meet + [0.05, 0, lift])}


def _interpolate(waypoints, t):
    for (t0, p0, q0, g0), (t1, p1, q1, g1) in zip(waypoints, waypoints[1:]):
        if t0 <= t < t1 or t1 == waypoints[-1][0]:
            f = (t - t0) / (t1 - t0)
            return p0 + (p1 - p0) * f, q0 + (q1 - q0) * f, g0 + (g1 - g0) * f
    raise ValueError(t)


class OriginalEpisode:
    """One episode of the release's end-effector expert (the mocap-steered scene)."""

    def __init__(self, release: str | Path, task: str, positions: dict[str, np.ndarray],
                 torquescale: float | None = None):
        path = Path(release) / "assets" / EE_MODELS[task]
        if not path.is_file():
            raise SystemExit(f"{path} not found: pass --release, a checkout of the original ACT release")
        self.task = task
        self.model = mujoco.MjModel.from_xml_path(str(path))
        if torquescale is not None:  # the welds' rotational stiffness (eq_data[10] of a weld)
            welds = self.model.eq_type == mujoco.mjtEq.mjEQ_WELD
            self.model.eq_data[welds, 10] = torquescale
        self.data = mujoco.MjData(self.model)
        d = self.data
        d.qpos[:16] = START_ARM_POSE
        for i, side in enumerate(("left", "right")):
            d.mocap_pos[i], d.mocap_quat[i] = MOCAP_START[side]
        d.ctrl[:] = [GRIP_CLOSED, -GRIP_CLOSED, GRIP_CLOSED, -GRIP_CLOSED]
        for name, joint in OBJECT_JOINTS[task].items():
            adr = self.model.jnt_qposadr[mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_JOINT, joint)]
            d.qpos[adr:adr + 7] = [*positions[name], 1, 0, 0, 0]
        mujoco.mj_forward(self.model, d)
        self.objects = {n: self.object_pose(n) for n in OBJECT_JOINTS[task]}  # read at t = 0, as the release
        self.plan = expert_waypoints(task, self.objects)
        self.t = 0

    def object_pose(self, name: str) -> np.ndarray:
        bid = self.model.jnt_bodyid[mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_JOINT, OBJECT_JOINTS[self.task][name])]
        return np.concatenate([self.data.xpos[bid], self.data.xquat[bid]])

    def step(self) -> None:
        d = self.data
        grips = []
        for i, side in enumerate(("left", "right")):
            pos, quat, grip = _interpolate(self.plan[side], self.t)
            d.mocap_pos[i], d.mocap_quat[i] = pos, quat
            grips.append(GRIP_CLOSED + grip * (GRIP_OPEN - GRIP_CLOSED))
        d.ctrl[:] = [grips[0], -grips[0], grips[1], -grips[1]]
        # dm_control's legacy step: finish the step begun by the last mj_step1, take the other
        # substeps whole, then mj_step1 so contacts and positions describe the new state.
        mujoco.mj_step2(self.model, d)
        mujoco.mj_step(self.model, d, nstep=9)
        mujoco.mj_step1(self.model, d)
        self.t += 1

    def run_until(self, t: int) -> None:
        while self.t < t:
            self.step()
