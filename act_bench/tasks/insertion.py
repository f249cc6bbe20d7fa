"""Insertion (ACT paper, simulated task 2): the right arm grasps the peg, the left the socket,
both lift, and the peg goes into the socket in mid-air until it touches the pin. Stages: 1 both
grippers touch their object; 2 both grasped and off the table; 3 peg touches socket in the
air; 4 peg touches the pin (success)."""
from __future__ import annotations

import numpy as np

from act_bench.paths import tasks_dir
from act_bench.scripted import plan_edit
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

    # the human-like style's alternatives (the first of each is the scripted expert's way)
    MODES = {
        "approach": {"from_above": 0.5, "along_fingers": 0.5},  # pre-grasp straight above, or back along the fingers
        "peg_grasp": {"centre": 0.5, "back": 0.5},  # the peg held at its centre or 2 cm behind it
        "who_inserts": {"both": 0.4, "right": 0.3, "left": 0.3},  # which hand moves in at the meeting point
    }
    ALONG = 0.1  # pre-grasp distance back along the fingers (metres)
    PEG_BACK = np.array([0.02, 0.0, 0.0])  # away from the socket: the hand then stops 2 cm further out
    # A person pushes until they see the peg stop; the scripted expert stops where the peg
    # first touches the pin (as the original), which leaves a drifting hand short of it.
    HUMAN_PUSH = 0.01

    def initial_plan(self, modes=None):
        peg, _ = self.object_pose("peg")
        socket, _ = self.object_pose("socket")
        meet = self.MEET + self.jitter()
        lift = np.array([0.0, 0.0, self.RIGHT_LIFT])
        back = self.PEG_BACK if self.mode(modes, "peg_grasp") == "back" else 0
        slanted = self.mode(modes, "approach") == "along_fingers"
        left_x, right_x = self._closing_in(modes)
        left = self._grasp("left", socket + self.SOCKET_GRASP, socket + self.ABOVE, slanted)
        left.waypoints += [Waypoint(285, meet + [left_x[0], 0, 0], P.PITCHED["left"], CLOSED),
                           Waypoint(340, meet + [left_x[1], 0, 0], P.PITCHED["left"], CLOSED)]
        right = self._grasp("right", peg + back + self.PEG_GRASP, peg + back + self.ABOVE, slanted)
        right.waypoints += [Waypoint(285, meet + [right_x[0], 0, 0] + back + lift, P.PITCHED["right"], CLOSED),
                            Waypoint(340, meet + [right_x[1], 0, 0] + back + lift, P.PITCHED["right"], CLOSED)]
        return {"left": left, "right": right}

    def _closing_in(self, modes) -> tuple[tuple[float, float], tuple[float, float]]:
        """x offsets from the meeting point of the left and right hand as the two close in
        (from, to): together the peg travels 10 cm towards the socket, whoever moves."""
        who = self.mode(modes, "who_inserts")
        left_x, right_x = {"both": ((-0.1, -0.05), (0.1, 0.05)), "right": ((-0.05, -0.05), (0.15, 0.05)),
                           "left": ((-0.15, -0.05), (0.05, 0.05))}[who]
        if self.style == "human":  # the moving hand(s) go further in
            push = self.HUMAN_PUSH / (2 if who == "both" else 1)
            left_x = (left_x[0], left_x[1] + (push if who != "right" else 0))
            right_x = (right_x[0], right_x[1] - (push if who != "left" else 0))
        return left_x, right_x

    def steady_windows(self, plan):
        """The insertion itself: both hands' last move."""
        return [plan_edit.last_move(traj) for traj in plan.values()]

    def _grasp(self, side: str, grasp: np.ndarray, above: np.ndarray, slanted: bool = False) -> Trajectory:
        """Over the object at t 120, down by t 170, closed by t 220 (both arms at once)."""
        pick = P.PITCHED[side]
        if slanted:
            above = grasp - self.ALONG * P.rotate(pick, [1.0, 0.0, 0.0])
        return Trajectory([
            self.start_waypoint(side, CLOSED),
            Waypoint(120, above, pick, OPEN),
            Waypoint(170, grasp, pick, OPEN),
            Waypoint(220, grasp, pick, CLOSED),
        ])


SOCKET_WALLS = ["socket_bottom", "socket_top", "socket_left", "socket_right"]


class InsertionStagesV2(StageRule):
    """The original release's rule (sim_env.py): the right arm's right finger on the peg and
    the left arm's left finger on a socket wall (not the pin); "contact" is the peg on a wall
    with neither object on the table, whoever holds them."""

    def __init__(self, config, model, robot):
        super().__init__(config, model, robot)
        self.peg = geom_ids(model, ["peg"])
        self.walls = geom_ids(model, SOCKET_WALLS)
        self.pin = geom_ids(model, ["pin"])
        self.right_finger = geom_ids(model, ["right/right_pad"])
        self.left_finger = geom_ids(model, ["left/left_pad"])

    def stage(self, data) -> int:
        pairs = contact_pairs(data)
        touch = touching(pairs, self.peg, self.right_finger) and touching(pairs, self.walls, self.left_finger)
        lifted = not touching(pairs, self.peg, self.table) and not touching(pairs, self.walls, self.table)
        if touching(pairs, self.peg, self.pin):
            return 4
        if lifted and touching(pairs, self.peg, self.walls):
            return 3
        if touch and lifted:
            return 2
        return 1 if touch else 0


class InsertionExpertV2(InsertionExpert):
    """The release's insertion schedule, with the fingers closing where the original's do and
    the objects carried to where the original's are.

    The objects start at z = 0.05 and fall (the release's reset); the plan reads their poses
    at t = 0, as the release's does. The grasp offsets put our pads where the release's
    fingers close, measured on both by `scripts/fidelity_check.py grasp` (docs/fidelity.md).
    Held that way, each object sits at a fixed offset from our grip site; the meeting
    waypoints subtract it, so the objects' centres follow the release's paths (each its
    steered point plus the offset the release's grasp leaves: the socket 2 mm above, the peg
    1 cm below), and the peg ends 2 cm inside the socket, on the pin, as the release's.
    """

    ABOVE = np.array([0.0, 0.0, 0.08])
    PEG_GRASP = np.array([-0.0033, 0.0, -0.0147])
    SOCKET_GRASP = np.array([0.0128, 0.0, -0.0129])
    REST_Z = {"peg": 0.01, "socket": 0.022}  # centres resting on the table
    RELEASE_HELD = {"peg": np.array([0.0, 0.0, -0.01]), "socket": np.array([0.0, 0.0, 0.002])}

    def initial_plan(self, modes=None):
        """Modes (human-like style) as InsertionExpert's; a peg held further back is carried
        so that its centre still follows the release's path."""
        peg, _ = self.object_pose("peg")
        socket, _ = self.object_pose("socket")
        meet = self.MEET + self.jitter()
        lift = np.array([0.0, 0.0, self.RIGHT_LIFT])
        if self.style == "human":  # a person lines the peg up with the socket's opening by eye; the
            # release's path carries it 5 mm low, which only its exact, drift-free hands survive
            lift[2] = self.RELEASE_HELD["socket"][2] - self.RELEASE_HELD["peg"][2]
        back = self.PEG_BACK if self.mode(modes, "peg_grasp") == "back" else 0
        slanted = self.mode(modes, "approach") == "along_fingers"
        left_x, right_x = self._closing_in(modes)
        left = self._grasp("left", socket + self.SOCKET_GRASP, socket + self.ABOVE, slanted)
        right = self._grasp("right", peg + back + self.PEG_GRASP, peg + back + self.ABOVE, slanted)
        carry_l = self._carry("socket", socket, socket + self.SOCKET_GRASP)
        carry_r = self._carry("peg", peg, peg + back + self.PEG_GRASP)
        left.waypoints += [Waypoint(285, carry_l(meet + [left_x[0], 0, 0]), P.PITCHED["left"], CLOSED),
                           Waypoint(340, carry_l(meet + [left_x[1], 0, 0]), P.PITCHED["left"], CLOSED)]
        right.waypoints += [Waypoint(285, carry_r(meet + [right_x[0], 0, 0] + lift), P.PITCHED["right"], CLOSED),
                            Waypoint(340, carry_r(meet + [right_x[1], 0, 0] + lift), P.PITCHED["right"], CLOSED)]
        return {"left": left, "right": right}

    def _carry(self, name, start, grasp):
        """Grip-site target that puts the object's centre where the release's would be when
        its steered point is at `point`."""
        held = np.array([start[0], start[1], self.REST_Z[name]]) - grasp
        return lambda point: point + self.RELEASE_HELD[name] - held


SPEC = register_task(TaskSpec(name="insertion", env_id="act_bench/Insertion-v1",
                              stage_rule=InsertionStages, expert=InsertionExpert,
                              config_file=tasks_dir() / "insertion.toml", default=False))
SPEC_V2 = register_task(TaskSpec(name="insertion_v2", env_id="act_bench/Insertion-v2",
                                 stage_rule=InsertionStagesV2, expert=InsertionExpertV2,
                                 config_file=tasks_dir() / "insertion_v2.toml"))
