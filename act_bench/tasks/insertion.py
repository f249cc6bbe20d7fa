"""Insertion (ACT paper, simulated task 2): the right arm grasps the peg, the left the socket,
both lift, and the peg goes into the socket in mid-air until it touches the pin. Stages: 1 both
grippers touch their object; 2 both grasped and off the table; 3 peg touches socket in the
air; 4 peg touches the pin (success)."""
from __future__ import annotations

import mujoco
import numpy as np

from act_bench.scripted import plan_edit
from act_bench.scripted.expert import CLOSED, OPEN, ScriptedExpert
from act_bench.scripted.trajectory import Trajectory, Waypoint
from act_bench.sim import poses as P
from act_bench.storage.paths import tasks_dir
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


class InsertionStagesV3(InsertionStagesV2):
    """The release's rule (stages 1-4, success at 4: the peg touches the pin at any step), and
    a strict stage 5: at the episode's end the peg's inner end has been inside the socket's
    channel, with neither object on the table, for the last strict_hold_steps steps."""

    CHANNEL = np.array([0.06, 0.018, 0.018])  # the channel's half-sizes in the socket's frame
    PEG_HALF_LENGTH = 0.06

    def __init__(self, config, model, robot):
        super().__init__(config, model, robot)
        self.peg_body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, "peg")
        self.socket_body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, "socket")

    def strict_holds(self, data) -> bool:
        pairs = contact_pairs(data)
        if touching(pairs, self.peg, self.table) or touching(pairs, self.walls, self.table):
            return False
        socket_pos, socket_rot = data.xpos[self.socket_body], data.xmat[self.socket_body].reshape(3, 3)
        peg_pos, peg_axis = data.xpos[self.peg_body], data.xmat[self.peg_body].reshape(3, 3)[:, 0]
        ends = [peg_pos + sign * self.PEG_HALF_LENGTH * peg_axis for sign in (-1.0, 1.0)]
        inner = min(ends, key=lambda e: np.linalg.norm(e - socket_pos))
        local = socket_rot.T @ (inner - socket_pos)
        return bool(np.all(np.abs(local) <= self.CHANNEL))


class InsertionExpertV3(InsertionExpertV2):
    """The release's insertion schedule with its grasps and carried poses as they were on the
    MuJoCo version it pinned (2.3.7), measured by scripts/release_measure.py on 20 seeded
    layouts (results/release-measure, docs/fidelity.md).

    There the right fingers close on the peg's upper part (lowest fingertip 6.5 mm below its
    centre), the left fingers reach 18 mm below the socket's centre, and at the end of the
    insertion (t 340) the peg is 8 mm short of and 11 mm below the right steered point, the
    socket 5 mm behind the left one. PEG_GRASP and SOCKET_GRASP put our pads on the same
    bands; each waypoint after the grasp is the release's steered point plus a constant
    (RIGHT_AT, LEFT_AT) chosen so that the objects' centres are where the release's are at
    that step (the constants hold our arms' lag too).
    """

    APPROACH_POSTURE = 0.1
    PEG_GRASP = np.array([-0.0033, 0.0, -0.0223])  # grip site from the peg's t = 0 pose
    SOCKET_GRASP = np.array([0.0128, 0.0, -0.0097])  # ... from the socket's
    # our grip-site target minus the release's steered point, per waypoint after the grasp
    RIGHT_AT = {285: np.array([-0.0039, -0.0013, 0.0032]), 340: np.array([0.0048, 0.0, 0.0105]),
                355: np.array([-0.0016, 0.0, 0.009]), 400: np.array([-0.0039, 0.0, 0.0071])}
    LEFT_AT = {285: np.array([0.0132, 0.0004, 0.0142]), 340: np.array([0.0077, 0.0, 0.0204]),
               355: np.array([0.0147, 0.0, 0.0191]), 400: np.array([0.021, 0.0, 0.0195])}

    def initial_plan(self, modes=None):
        """Modes (human-like style) as InsertionExpert's."""
        peg, _ = self.object_pose("peg")
        socket, _ = self.object_pose("socket")
        meet = self.MEET + self.jitter()
        lift = np.array([0.0, 0.0, self.RIGHT_LIFT])
        back = self.PEG_BACK if self.mode(modes, "peg_grasp") == "back" else 0
        slanted = self.mode(modes, "approach") == "along_fingers"
        left_x, right_x = self._closing_in(modes)
        left = self._grasp("left", socket + self.SOCKET_GRASP, socket + self.ABOVE, slanted)
        right = self._grasp("right", peg + back + self.PEG_GRASP, peg + back + self.ABOVE, slanted)
        # the release's steered points: from the meeting point, the right hand 7.15 mm higher
        # 355: where the release's drifting hands have brought the peg onto the pin; 400: held
        for t, lx, rx in ((285, left_x[0], right_x[0]), (340, left_x[1], right_x[1]), (355, left_x[1], right_x[1]),
                          (400, left_x[1], right_x[1])):
            left.waypoints.append(Waypoint(t, meet + [lx, 0, 0] + self.LEFT_AT[t], P.PITCHED["left"], CLOSED))
            right.waypoints.append(Waypoint(t, meet + [rx, 0, 0] + lift + back + self.RIGHT_AT[t],
                                            P.PITCHED["right"], CLOSED))
        return {"left": left, "right": right}


SPEC = register_task(TaskSpec(name="insertion", env_id="act_bench/Insertion-v1",
                              stage_rule=InsertionStages, expert=InsertionExpert,
                              config_file=tasks_dir() / "insertion.toml", default=False))
SPEC_V2 = register_task(TaskSpec(name="insertion_v2", env_id="act_bench/Insertion-v2",
                                 stage_rule=InsertionStagesV2, expert=InsertionExpertV2,
                                 config_file=tasks_dir() / "insertion_v2.toml", default=False))
SPEC_V3 = register_task(TaskSpec(name="insertion_v3", env_id="act_bench/Insertion-v3",
                                 stage_rule=InsertionStagesV3, expert=InsertionExpertV3,
                                 config_file=tasks_dir() / "insertion_v3.toml"))
