"""Scripted experts for both tasks, planned in end-effector space.

They follow the original ACT release's scripted schedule (waypoints fixed at the start of
the episode from the objects' initial poses, linearly interpolated in time); where our arms
and fingers force a different number, docs/fidelity.md gives both and the reason. Every action they produce is a 14-d joint target executed by
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
    """The original ACT release's transfer-cube expert (docs/fidelity.md), open loop.

    The right hand, pitched 60 degrees down, picks the cube and carries it to a fixed meeting
    point; the left hand, rolled 90 degrees so its fingers close along z, slides in along a
    path that is the same in every episode, clamps the cube's top and bottom, and the right
    hand lets go. Only the pick depends on where the cube is.
    """

    MEET = np.array([0.0, 0.5, 0.25])
    ABOVE = np.array([0.0, 0.0, 0.08])  # pre-grasp, as the original
    GRASP = np.array([0.0, 0.0, 0.01])  # grip site relative to the cube centre
    LEFT_OUT = np.array([-0.1, 0.0, -0.03])
    LEFT_IN = np.array([-0.02, 0.0, -0.03])

    def initial_plan(self):
        cube, _ = self.object_pose("cube")
        meet = self.MEET + self.jitter()
        pick = P.PITCHED["right"]
        right = Trajectory([
            self.start_waypoint("right", CLOSED),
            Waypoint(90, cube + self.ABOVE, pick, OPEN),
            Waypoint(130, cube + self.GRASP, pick, OPEN),
            Waypoint(170, cube + self.GRASP, pick, CLOSED),
            Waypoint(200, meet + [0.05, 0, 0], pick, CLOSED),
            Waypoint(220, meet, pick, CLOSED),
            Waypoint(310, meet, pick, OPEN),
            Waypoint(360, meet + [0.1, 0, 0], pick, OPEN),
        ])
        rolled, level = P.ROLLED_LEFT, P.LEVEL["left"]
        left = Trajectory([
            self.start_waypoint("left", CLOSED),
            Waypoint(100, meet + self.LEFT_OUT, rolled, OPEN),
            Waypoint(260, meet + self.LEFT_IN, rolled, OPEN),
            Waypoint(310, meet + self.LEFT_IN, rolled, CLOSED),
            Waypoint(360, meet + self.LEFT_OUT, level, CLOSED),
        ])
        return {"right": right, "left": left}


class InsertionPolicy(ScriptedPolicy):
    """The original ACT release's insertion expert (docs/fidelity.md), open loop.

    Both hands, pitched 60 degrees down, grasp their object at its centre (left: the socket,
    right: the peg), lift them to either side of a fixed meeting point, and close in until
    the peg is 2 cm inside the socket, on the pin.
    """

    MEET = np.array([0.0, 0.5, 0.15])
    ABOVE = np.array([0.0, 0.0, 0.08])
    PEG_GRASP = np.array([0.0, 0.0, 0.01715])  # grip site relative to the peg centre
    SOCKET_GRASP = np.array([0.0, 0.0, 0.01])  # ... relative to the socket (channel) centre
    RIGHT_LIFT = 0.00715  # the right hand carries the peg this much higher than the left hand

    def initial_plan(self):
        peg, _ = self.object_pose("peg")
        socket, _ = self.object_pose("socket")
        meet = self.MEET + self.jitter()
        lift = np.array([0.0, 0.0, self.RIGHT_LIFT])
        left = self._grasp("left", socket + self.SOCKET_GRASP, socket + self.ABOVE)
        left.waypoints += [Waypoint(285, meet + [-0.1, 0, 0], P.PITCHED["left"], CLOSED),
                           Waypoint(340, meet + [-0.05, 0, 0], P.PITCHED["left"], CLOSED)]
        right = self._grasp("right", peg + self.PEG_GRASP, peg + self.ABOVE)
        right.waypoints += [Waypoint(285, meet + [0.1, 0, 0] + lift, P.PITCHED["right"], CLOSED),
                            Waypoint(340, meet + [0.05, 0, 0] + lift, P.PITCHED["right"], CLOSED)]
        return {"left": left, "right": right}

    def _grasp(self, side: str, grasp: np.ndarray, above: np.ndarray) -> Trajectory:
        """Over the object at t 120, down by t 170, closed by t 220 (both arms at once)."""
        pick = P.PITCHED[side]
        return Trajectory([
            self.start_waypoint(side, CLOSED),
            Waypoint(120, above, pick, OPEN),
            Waypoint(170, grasp, pick, OPEN),
            Waypoint(220, grasp, pick, CLOSED),
        ])


POLICIES = {"transfer_cube": TransferCubePolicy, "insertion": InsertionPolicy}
