"""Transfer cube (ACT paper, simulated task 1): the right arm picks the cube up and hands it to
the left arm in mid-air. Stages: 1 right finger touches the cube; 2 and it is off the table;
3 a left finger touches it; 4 a left finger touches it off the table (success)."""
from __future__ import annotations

import numpy as np

from act_bench.paths import tasks_dir
from act_bench.scripted.expert import CLOSED, OPEN, ScriptedExpert
from act_bench.scripted.trajectory import Trajectory, Waypoint
from act_bench.sim import poses as P
from act_bench.tasks.registry import TaskSpec, register_task
from act_bench.tasks.stages import StageRule, contact_pairs, geom_ids, touching


class TransferCubeStages(StageRule):
    def __init__(self, config, model, robot):
        super().__init__(config, model, robot)
        self.cube = geom_ids(model, ["cube"])

    def stage(self, data) -> int:
        pairs = contact_pairs(data)
        right = touching(pairs, self.cube, self.right_pads)
        left = touching(pairs, self.cube, self.left_pads)
        on_table = touching(pairs, self.cube, self.table)
        if left and not on_table:
            return 4
        if left:
            return 3
        if right and not on_table:
            return 2
        return 1 if right else 0


class TransferCubeExpert(ScriptedExpert):
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


SPEC = register_task(TaskSpec(name="transfer_cube", env_id="act_bench/TransferCube-v0",
                              stage_rule=TransferCubeStages, expert=TransferCubeExpert,
                              config_file=tasks_dir() / "transfer_cube.toml"))
