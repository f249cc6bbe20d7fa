"""Insertion (ACT paper, simulated task 2): the right arm grasps the peg, the left the socket,
both lift, and the peg goes into the socket in mid-air until it touches the pin. Stages: 1 both
grippers touch their object; 2 both grasped and off the table; 3 peg touches socket in the
air; 4 peg touches the pin (success)."""
from __future__ import annotations

import numpy as np

from act_bench.paths import tasks_dir
from act_bench.scripted.expert import CLOSED, OPEN, ScriptedExpert
from act_bench.scripted.trajectory import Trajectory, Waypoint
from act_bench.sim import poses as P
from act_bench.tasks.registry import TaskSpec, register_task
from act_bench.tasks.stages import StageRule, contact_pairs, geom_ids, touching


class InsertionStages(StageRule):
    def __init__(self, config, model, robot):
        super().__init__(config, model, robot)
        self.peg = geom_ids(model, ["peg"])
        self.socket = geom_ids(model, ["socket_bottom", "socket_top", "socket_left", "socket_right", "pin"])
        self.pin = geom_ids(model, ["pin"])

    def stage(self, data) -> int:
        pairs = contact_pairs(data)
        grasped = touching(pairs, self.peg, self.right_pads) and touching(pairs, self.socket, self.left_pads)
        lifted = not touching(pairs, self.peg, self.table) and not touching(pairs, self.socket, self.table)
        if touching(pairs, self.peg, self.pin):
            return 4
        if lifted and touching(pairs, self.peg, self.socket):
            return 3
        if grasped and lifted:
            return 2
        return 1 if grasped else 0


class InsertionExpert(ScriptedExpert):
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


SPEC = register_task(TaskSpec(name="insertion", env_id="act_bench/Insertion-v0",
                              stage_rule=InsertionStages, expert=InsertionExpert,
                              config_file=tasks_dir() / "insertion.toml"))
