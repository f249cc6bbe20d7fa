"""Transfer cube (ACT paper, simulated task 1): the right arm picks the cube up and hands it to
the left arm in mid-air. Stages: 1 right finger touches the cube; 2 and it is off the table;
3 a left finger touches it; 4 a left finger touches it off the table (success)."""
from __future__ import annotations

import numpy as np

from act_bench.scripted.expert import CLOSED, OPEN, ScriptedExpert
from act_bench.scripted.trajectory import Trajectory, Waypoint
from act_bench.sim import poses as P
from act_bench.storage.paths import tasks_dir
from act_bench.tasks.registry import TaskSpec, register_task
from act_bench.tasks.stages import StageRule, contact_pairs, geom_ids, touching


class TransferCubeStages(StageRule):
    """-v1: either pad of an arm counts as that arm touching the cube."""

    def __init__(self, config, model, robot):
        super().__init__(config, model, robot)
        self.cube = geom_ids(model, ["cube"])
        self.right_finger, self.left_finger = self.fingers(model)

    def fingers(self, model) -> tuple[frozenset, frozenset]:
        """The geoms that count as the right and the left hand touching the cube."""
        return self.right_pads, self.left_pads

    def stage(self, data) -> int:
        pairs = contact_pairs(data)
        right = touching(pairs, self.cube, self.right_finger)
        left = touching(pairs, self.cube, self.left_finger)
        on_table = touching(pairs, self.cube, self.table)
        if left and not on_table:
            return 4
        if left:
            return 3
        if right and not on_table:
            return 2
        return 1 if right else 0


class TransferCubeExpert(ScriptedExpert):
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
    # the human-like style's alternatives (the first of each is the scripted expert's way)
    MODES = {
        "approach": {"from_above": 0.5, "along_fingers": 0.5},  # pre-grasp straight above, or back along the fingers
        "grasp_at": {"centre": 0.5, "near_edge": 0.5},  # where along the cube the fingers close
        "left_comes_in": {"early": 0.5, "late": 0.5},  # the left hand waits near the meeting point, or further out
    }
    ALONG = 0.1  # pre-grasp distance back along the fingers (metres)
    NEAR_EDGE = np.array([0.01, 0.0, 0.0])  # towards the right arm
    LEFT_PARK = np.array([-0.18, 0.0, -0.03])  # where the left hand waits when the right comes first

    def initial_plan(self, modes=None):
        cube, _ = self.object_pose("cube")
        meet = self.MEET + self.jitter()
        pick = P.PITCHED["right"]
        at = cube + (self.NEAR_EDGE if self.mode(modes, "grasp_at") == "near_edge" else 0)
        grasp = at + self.GRASP
        if self.mode(modes, "approach") == "along_fingers":
            above = grasp - self.ALONG * P.rotate(pick, [1.0, 0.0, 0.0])
        else:
            above = at + self.ABOVE
        right = Trajectory([
            self.start_waypoint("right", CLOSED),
            Waypoint(90, above, pick, OPEN),
            Waypoint(130, grasp, pick, OPEN),
            Waypoint(170, grasp, pick, CLOSED),
            Waypoint(200, meet + [0.05, 0, 0], pick, CLOSED),
            Waypoint(220, meet, pick, CLOSED),
            Waypoint(310, meet, pick, OPEN),
            Waypoint(360, meet + [0.1, 0, 0], pick, OPEN),
        ])
        rolled, level = P.ROLLED_LEFT, P.LEVEL["left"]
        if self.mode(modes, "left_comes_in") == "early":  # the scripted way: slides in slowly
            come_in = [Waypoint(100, meet + self.LEFT_OUT, rolled, OPEN),
                       Waypoint(260, meet + self.LEFT_IN, rolled, OPEN)]
        else:  # waits further out until the right hand is nearly there, then comes in briskly
            come_in = [Waypoint(100, meet + self.LEFT_PARK, rolled, OPEN),
                       Waypoint(200, meet + self.LEFT_PARK, rolled, OPEN),
                       Waypoint(225, meet + self.LEFT_OUT, rolled, OPEN),
                       Waypoint(260, meet + self.LEFT_IN, rolled, OPEN)]
        left = Trajectory([
            self.start_waypoint("left", CLOSED),
            *come_in,
            Waypoint(310, meet + self.LEFT_IN, rolled, CLOSED),
            Waypoint(360, meet + self.LEFT_OUT, level, CLOSED),
        ])
        return {"right": right, "left": left}


class TransferCubeStagesV2(TransferCubeStages):
    """The original release's rule (sim_env.py): only the right arm's right finger and the
    left arm's left finger count."""

    def fingers(self, model) -> tuple[frozenset, frozenset]:
        return geom_ids(model, ["right/right_pad"]), geom_ids(model, ["left/left_pad"])


class TransferCubeExpertV2(ScriptedExpert):
    """The release's transfer-cube schedule, with the fingers closing where the original's do
    and the cube carried to where the original's is.

    The cube starts at z = 0.05 and falls (the release's reset); like the release, the plan
    reads its pose at t = 0, so GRASP is relative to the t = 0 pose. GRASP puts our pads where
    the release's fingers close, measured on both by `scripts/fidelity_check.py grasp`
    (docs/fidelity.md): the lowest fingertip 9 mm above the cube's centre (the release holds
    the top ~11 mm) and the contacts on the cube's near half. Held that way, the cube sits
    HELD from our grip site; the meeting waypoints subtract it, so the cube's centre follows
    the release's path (its steered point minus 15 mm in z). The left hand meets the cube with
    its jaws centred on it and its pad tips 7 mm short of the cube's centre: the release's own
    hand-over cannot be measured on current MuJoCo (its expert flings the cube at t ~ 190), and
    its 9 cm fingers reach past the cube where our palm would hit it.
    """

    MEET = np.array([0.0, 0.5, 0.25])
    ABOVE = np.array([0.0, 0.0, 0.08])  # as the release: 8 cm above the t = 0 pose
    GRASP = np.array([-0.009, 0.0, 0.0035])
    REST_Z = 0.02  # the cube's centre resting on the table
    RELEASE_HELD = np.array([0.0, 0.0, -0.015])  # the release's cube centre from its steered point
    LEFT_IN = np.array([-0.029, 0.0, 0.0035])  # our left grip site from the cube's centre
    LEFT_SLIDE = np.array([0.12, 0.0, 0.0])  # the release slides in 12 cm from t 100 to 260

    # the human-like style's alternatives (the first of each is the scripted expert's way)
    MODES = {
        "approach": {"from_above": 0.5, "along_fingers": 0.5},  # pre-grasp straight above, or back along the fingers
        "grasp_at": {"release": 0.5, "centre": 0.5},  # the release's place on the cube's near half, or its middle
        "left_comes_in": {"early": 0.5, "late": 0.5},  # the left hand waits near the meeting point, or further out
    }
    ALONG = 0.1  # pre-grasp distance back along the fingers (metres)
    CENTRE = np.array([0.009, 0.0, 0.0])  # from GRASP to the cube's middle (x)
    LEFT_PARK = np.array([-0.06, 0.0, 0.0])  # further out than the slide's start: the left waits there

    def initial_plan(self, modes=None):
        cube, _ = self.object_pose("cube")
        meet = self.MEET + self.jitter()
        grasp = cube + self.GRASP + (self.CENTRE if self.mode(modes, "grasp_at") == "centre" else 0)
        held = np.array([cube[0], cube[1], self.REST_Z]) - grasp  # cube centre from the grip site
        carry = lambda point: point + self.RELEASE_HELD - held  # noqa: E731  (grip site for a cube centre)
        pick = P.PITCHED["right"]
        above = cube + self.ABOVE
        if self.mode(modes, "approach") == "along_fingers":
            above = grasp - self.ALONG * P.rotate(pick, [1.0, 0.0, 0.0])
        right = Trajectory([
            self.start_waypoint("right", CLOSED),
            Waypoint(90, above, pick, OPEN),
            Waypoint(130, grasp, pick, OPEN),
            Waypoint(170, grasp, pick, CLOSED),
            Waypoint(200, carry(meet + [0.05, 0, 0]), pick, CLOSED),
            Waypoint(220, carry(meet), pick, CLOSED),
            Waypoint(310, carry(meet), pick, OPEN),
            Waypoint(360, carry(meet + [0.1, 0, 0]), pick, OPEN),
        ])
        left_in = meet + self.RELEASE_HELD + self.LEFT_IN
        rolled, level = P.ROLLED_LEFT, P.LEVEL["left"]
        if self.mode(modes, "left_comes_in") == "early":  # the release's way: slides in slowly
            come_in = [Waypoint(100, left_in - self.LEFT_SLIDE, rolled, OPEN)]
        else:  # waits further out until the right hand is nearly there, then comes in briskly
            park = left_in - self.LEFT_SLIDE + self.LEFT_PARK
            come_in = [Waypoint(100, park, rolled, OPEN), Waypoint(170, park, rolled, OPEN),
                       Waypoint(200, left_in - self.LEFT_SLIDE, rolled, OPEN)]
        left = Trajectory([
            self.start_waypoint("left", CLOSED),
            *come_in,
            Waypoint(260, left_in, rolled, OPEN),
            Waypoint(310, left_in, rolled, CLOSED),
            Waypoint(360, left_in - self.LEFT_SLIDE, level, CLOSED),
        ])
        return {"right": right, "left": left}


SPEC = register_task(TaskSpec(name="transfer_cube", env_id="act_bench/TransferCube-v1",
                              stage_rule=TransferCubeStages, expert=TransferCubeExpert,
                              config_file=tasks_dir() / "transfer_cube.toml", default=False))
SPEC_V2 = register_task(TaskSpec(name="transfer_cube_v2", env_id="act_bench/TransferCube-v2",
                                 stage_rule=TransferCubeStagesV2, expert=TransferCubeExpertV2,
                                 config_file=tasks_dir() / "transfer_cube_v2.toml", default=False))


class TransferCubeStagesV3(TransferCubeStagesV2):
    """The release's rule (stages 1-4, success at 4), and a strict stage 5: at the episode's end
    the cube has been held by the left gripper alone, off the table, for the last
    strict_hold_steps steps. The release's rule counts a transfer as soon as the left finger
    touches the cube off the table, so a cube falling past the left hand counts; the strict
    stage does not."""

    def __init__(self, config, model, robot):
        super().__init__(config, model, robot)
        self.right_hand = geom_ids(model, ["right/left_pad", "right/right_pad", "right/palm"])

    def strict_holds(self, data) -> bool:
        pairs = contact_pairs(data)
        return (touching(pairs, self.cube, self.left_pads) and not touching(pairs, self.cube, self.right_hand)
                and not touching(pairs, self.cube, self.table))


class TransferCubeExpertV3(TransferCubeExpertV2):
    """The release's transfer-cube schedule with its grasp and hand-over as they were on the
    MuJoCo version it pinned (2.3.7), measured by scripts/release_measure.py on 20 seeded
    layouts (results/release-measure, docs/fidelity.md).

    There the right fingers close over the cube's upper half (lowest fingertip 2 mm below the
    cube's centre, contacts from its centre to its top), the cube is carried lagging 21 mm
    behind the hand's steered point as it reaches the meeting point, and the left jaws clamp
    it 16 mm short of theirs. GRASP puts our pads on the same band; every waypoint after the
    grasp is the release's steered point plus a constant (RIGHT_AT, LEFT_AT) chosen so that
    the cube's centre is where the release's is at that step (our arms lag differently from
    its mocap-welded hands, so the constants hold the lag too). The left hand meets the cube
    with its jaws centred on it and its pad tips short of the cube's far side, as in -v2.
    """

    APPROACH_POSTURE = 0.1
    GRASP = np.array([-0.009, 0.0, -0.0077])  # grip site from the cube's t = 0 pose
    # our grip-site target minus the release's steered point, per waypoint after the grasp
    RIGHT_AT = {200: np.array([0.0127, 0.0001, 0.0036]), 220: np.array([0.0127, 0.0001, 0.0036]),
                260: np.array([-0.0111, -0.0015, 0.0034]), 310: np.array([-0.0031, -0.004, -0.0095]),
                360: np.array([-0.009, 0.0, 0.0221])}
    LEFT_AT = {260: np.array([-0.0447, -0.0017, -0.0021]), 310: np.array([-0.0447, -0.0017, -0.0021]),
               360: np.array([-0.0198, -0.0013, -0.0242]), 400: np.array([-0.0396, -0.0001, -0.0083])}
    # the release's steered points (its scripted_policy.py), from the meeting point
    RIGHT_STEERED = {200: [0.05, 0, 0], 220: [0, 0, 0], 260: [0, 0, 0], 310: [0, 0, 0], 360: [0.1, 0, 0]}
    LEFT_STEERED = {100: [-0.1, 0, -0.02], 260: [0.02, 0, -0.02], 310: [0.02, 0, -0.02], 360: [-0.1, 0, -0.02],
                    400: [-0.1, 0, -0.02]}

    def initial_plan(self, modes=None):
        cube, _ = self.object_pose("cube")
        meet = self.MEET + self.jitter()
        centre = self.CENTRE if self.mode(modes, "grasp_at") == "centre" else 0
        grasp = cube + self.GRASP + centre
        right_at = lambda t: meet + self.RIGHT_STEERED[t] + self.RIGHT_AT[t] + centre  # noqa: E731
        left_at = lambda t: meet + self.LEFT_STEERED[t] + self.LEFT_AT[t]  # noqa: E731
        pick = P.PITCHED["right"]
        above = cube + self.ABOVE
        if self.mode(modes, "approach") == "along_fingers":
            above = grasp - self.ALONG * P.rotate(pick, [1.0, 0.0, 0.0])
        right = Trajectory([
            self.start_waypoint("right", CLOSED),
            Waypoint(90, above, pick, OPEN),
            Waypoint(130, grasp, pick, OPEN),
            Waypoint(170, grasp, pick, CLOSED),
            Waypoint(200, right_at(200), pick, CLOSED),
            Waypoint(220, right_at(220), pick, CLOSED),
            # the release's hand has caught up with its steered point by 260; its gripper opens
            # linearly from 220 to 310 all the same
            Waypoint(260, right_at(260), pick, CLOSED + (OPEN - CLOSED) * 40 / 90),
            Waypoint(310, right_at(310), pick, OPEN),
            Waypoint(360, right_at(360), pick, OPEN),
        ])
        rolled, level = P.ROLLED_LEFT, P.LEVEL["left"]
        slide_start = left_at(260) - self.LEFT_SLIDE  # the release slides in 12 cm from t 100 to 260
        if self.mode(modes, "left_comes_in") == "early":  # the release's way: slides in slowly
            come_in = [Waypoint(100, slide_start, rolled, OPEN)]
        else:  # waits further out until the right hand is nearly there, then comes in briskly
            park = slide_start + self.LEFT_PARK
            come_in = [Waypoint(100, park, rolled, OPEN), Waypoint(170, park, rolled, OPEN),
                       Waypoint(200, slide_start, rolled, OPEN)]
        left = Trajectory([
            self.start_waypoint("left", CLOSED),
            *come_in,
            Waypoint(260, left_at(260), rolled, OPEN),
            Waypoint(310, left_at(310), rolled, CLOSED),
            Waypoint(360, left_at(360), level, CLOSED),
            Waypoint(400, left_at(400), level, CLOSED),  # where the release's lagging hand settles
        ])
        return {"right": right, "left": left}


SPEC_V3 = register_task(TaskSpec(name="transfer_cube_v3", env_id="act_bench/TransferCube-v3",
                                 stage_rule=TransferCubeStagesV3, expert=TransferCubeExpertV3,
                                 config_file=tasks_dir() / "transfer_cube_v3.toml"))
