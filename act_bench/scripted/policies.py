"""Scripted experts for both tasks, planned in end-effector space.

They use privileged simulator state (object poses) and re-plan at fixed steps from the
measured object-in-gripper poses, so a small slip during a grasp does not spoil the
hand-over or the insertion. Every action they produce is a 14-d joint target executed by
the joint-space environment, which is what gets recorded.
"""
from __future__ import annotations

import numpy as np

from act_bench.envs.aloha import AlohaEnv
from act_bench.envs.ee_control import EndEffectorControl
from act_bench.scripted.trajectory import Trajectory, Waypoint
from act_bench.sim import poses as P
from act_bench.sim.robot import SIDES

OPEN, CLOSED = 1.0, 0.0


class ScriptedPolicy:
    """Base: per-arm trajectories, re-planning hooks at given steps, IK to joint actions."""

    replan_steps: tuple[int, ...] = ()

    def __init__(self, env: AlohaEnv, rng: np.random.Generator | None = None, noise: float = 0.0):
        self.env = env
        self.control = EndEffectorControl(env)
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self.noise = float(noise)
        self.t = 0
        self.plan: dict[str, Trajectory] = {}

    def reset(self) -> None:
        self.t = 0
        self.control.reset()
        self.plan = self.initial_plan()

    def __call__(self) -> np.ndarray:
        """Joint action for the current step (call once per env step)."""
        if self.t in self.replan_steps:
            self.replan(self.t)
        targets, grips = {}, {}
        for side in SIDES:
            pos, quat, grip = self.plan[side].at(self.t)
            targets[side] = (pos, quat)
            grips[side] = grip
        self.t += 1
        return self.control.joint_action(targets, grips)

    # --- helpers for subclasses -------------------------------------------------------
    def jitter(self, scale: float = 1.0) -> np.ndarray:
        """Uniform noise in [-noise, noise]^3 (zero when noise is off)."""
        if self.noise <= 0:
            return np.zeros(3)
        return self.rng.uniform(-1, 1, 3) * self.noise * scale

    def start_waypoint(self, side: str, grip: float) -> Waypoint:
        pos, quat = self.control.grip_pose(side)
        return Waypoint(0, pos, quat, grip)

    def object_pose(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        q = self.env.task.object_poses(self.env.data)[name]
        return q[:3].copy(), q[3:7].copy()

    def grip_for_object(self, side: str, obj: str, target_obj_pose: tuple) -> tuple:
        """Grip-site pose that puts `obj` (held by `side`) at `target_obj_pose`."""
        held = P.relative(self.control.grip_pose(side), self.object_pose(obj))
        return P.compose(target_obj_pose, P.inverse(held))

    def initial_plan(self) -> dict[str, Trajectory]:
        raise NotImplementedError

    def replan(self, t: int) -> None:
        pass


class TransferCubePolicy(ScriptedPolicy):
    """Right arm picks the cube top-down and lifts it to a meeting point; the left arm comes
    in level from the -x side, grips the cube's free half, and the right arm lets go."""

    replan_steps = (240,)
    # The right fingers grip the +x half of the cube and the left fingers its -x half.
    RIGHT_GRASP_OFFSET = np.array([0.011, 0.0, 0.006])
    LEFT_GRASP_OFFSET = np.array([-0.030, 0.0, 0.0])

    def initial_plan(self):
        cube, _ = self.object_pose("cube")
        self.meet = np.array([0.0, 0.5, 0.25]) + self.jitter()
        down = P.TOP_DOWN["right"]
        grasp = cube + self.RIGHT_GRASP_OFFSET
        right = Trajectory([
            self.start_waypoint("right", CLOSED),
            Waypoint(90, grasp + [0, 0, 0.10], down, OPEN),
            Waypoint(130, grasp, down, OPEN),
            Waypoint(150, grasp, down, CLOSED),
            Waypoint(165, grasp, down, CLOSED),
            Waypoint(225, self.meet + self.RIGHT_GRASP_OFFSET, down, CLOSED),
        ])
        level = P.LEVEL["left"]
        left = Trajectory([
            self.start_waypoint("left", CLOSED),
            Waypoint(100, self.meet + [-0.2, 0, 0], level, OPEN),
        ])
        return {"right": right, "left": left}

    def replan(self, t):
        # Hand-over from where the cube really is in the right hand.
        cube, _ = self.object_pose("cube")
        level = P.LEVEL["left"]
        self.plan["left"].replace_from(t, [
            Waypoint(t + 25, cube + self.LEFT_GRASP_OFFSET + [-0.08, 0, 0], level, OPEN),
            Waypoint(t + 55, cube + self.LEFT_GRASP_OFFSET, level, OPEN),
            Waypoint(t + 70, cube + self.LEFT_GRASP_OFFSET, level, CLOSED),
            Waypoint(t + 150, cube + self.LEFT_GRASP_OFFSET + [-0.05, 0, 0], level, CLOSED),
        ])
        rpos, rquat = self.control.grip_pose("right")
        self.plan["right"].replace_from(t, [
            Waypoint(t + 70, rpos, rquat, CLOSED),
            Waypoint(t + 85, rpos, rquat, OPEN),
            Waypoint(t + 120, rpos + [0.03, 0, 0.08], rquat, OPEN),
        ])


class InsertionPolicy(ScriptedPolicy):
    """Both arms grasp top-down (right: the peg's +x end, left: the socket's -x end), lift,
    line the peg up with the socket's channel in mid-air, and push it in to the pin."""

    replan_steps = (190, 265)
    PEG_GRASP = np.array([0.03, 0.0, 0.015])  # grip site relative to the peg centre
    SOCKET_GRASP = np.array([-0.035, 0.0, 0.025])  # ... relative to the socket origin
    CHANNEL = np.array([0.0, 0.0, 0.01675])  # channel axis point in the socket frame
    PEG_HALF = 0.06
    PIN_FACE = -0.006  # x of the pin's +x face in the socket frame

    def initial_plan(self):
        peg, _ = self.object_pose("peg")
        socket, _ = self.object_pose("socket")
        self.meet = np.array([-0.06, 0.5, 0.22]) + self.jitter()
        return {"right": self._grasp_and_lift("right", peg + self.PEG_GRASP),
                "left": self._grasp_and_lift("left", socket + self.SOCKET_GRASP)}

    def _grasp_and_lift(self, side: str, grasp: np.ndarray) -> Trajectory:
        """Over the object, down, close, lift 12 cm: both arms do this at the same time."""
        down = P.TOP_DOWN[side]
        return Trajectory([
            self.start_waypoint(side, CLOSED),
            Waypoint(80, grasp + [0, 0, 0.10], down, OPEN),
            Waypoint(115, grasp, down, OPEN),
            Waypoint(135, grasp, down, CLOSED),
            Waypoint(150, grasp, down, CLOSED),
            Waypoint(185, grasp + [0, 0, 0.12], down, CLOSED),
        ])

    def _peg_target(self, socket_pose: tuple, depth_x: float) -> tuple:
        """Peg pose on the channel axis with its centre at x = depth_x in the socket frame."""
        return P.compose(socket_pose, (self.CHANNEL + [depth_x, 0, 0], np.array([1.0, 0, 0, 0])))

    def replan(self, t):
        if t == self.replan_steps[0]:
            # Carry the socket to the meeting point and the peg in front of its mouth.
            socket_target = (self.meet, np.array([1.0, 0, 0, 0]))
            left = self.grip_for_object("left", "socket", socket_target)
            self.plan["left"].replace_from(t, [Waypoint(t + 60, *left, CLOSED)])
            peg_target = self._peg_target(socket_target, 0.06 + self.PEG_HALF + 0.04)
            right = self.grip_for_object("right", "peg", peg_target)
            self.plan["right"].replace_from(t, [Waypoint(t + 60, *right, CLOSED)])
        else:
            # Line up against where the socket really is, then push in past the pin face.
            socket = self.object_pose("socket")
            lined_up = self.grip_for_object("right", "peg", self._peg_target(socket, 0.06 + self.PEG_HALF + 0.02))
            inserted = self.grip_for_object("right", "peg", self._peg_target(socket, self.PIN_FACE + self.PEG_HALF - 0.006))
            self.plan["right"].replace_from(t, [
                Waypoint(t + 15, *lined_up, CLOSED),
                Waypoint(t + 75, *inserted, CLOSED),
            ])


POLICIES = {"transfer_cube": TransferCubePolicy, "insertion": InsertionPolicy}
