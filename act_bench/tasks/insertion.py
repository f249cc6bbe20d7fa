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


SPEC = register_task(TaskSpec(name="insertion", env_id="act_bench/Insertion-v1",
                              stage_rule=InsertionStages, expert=InsertionExpert,
                              config_file=tasks_dir() / "insertion.toml"))
