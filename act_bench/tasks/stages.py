"""The base of every task's stage rule: object placement at reset, and the stage read from
contacts (each task module subclasses StageRule).

The reward at each step is the current stage; success is reaching the success stage (the
last one, unless the task lists a strict stage after it) at any step.
"""
from __future__ import annotations

import numpy as np

import act_bench.sim  # noqa: F401
import mujoco

from act_bench.tasks.config import TaskConfig
from act_bench.sim.robot import RobotIndex


def geom_ids(model, names) -> frozenset:
    ids = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, n) for n in names]
    if min(ids) < 0:
        raise ValueError(f"model lacks geoms {names}")
    return frozenset(ids)


def contact_pairs(data: mujoco.MjData) -> set[tuple[int, int]]:
    """Geom pairs in contact now, each as (low id, high id)."""
    pairs = set()
    for k in range(data.ncon):
        g1, g2 = int(data.contact.geom1[k]), int(data.contact.geom2[k])
        pairs.add((g1, g2) if g1 < g2 else (g2, g1))
    return pairs


def touching(pairs, group_a: frozenset, group_b: frozenset) -> bool:
    return any((a in group_a and b in group_b) or (a in group_b and b in group_a) for a, b in pairs)


class StageRule:
    """Places the task's free objects and scores the current stage."""

    def __init__(self, config: TaskConfig, model: mujoco.MjModel, robot: RobotIndex):
        self.config = config
        self.robot = robot
        self.table = geom_ids(model, ["table"])
        self.left_pads, self.right_pads = robot.pad_geoms
        self.object_qpos = {}
        for name in config.objects:
            jid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
            self.object_qpos[name] = int(model.jnt_qposadr[jid])

    def place_objects(self, data: mujoco.MjData, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Put every object at a uniform random position (identity orientation)."""
        poses = {}
        for name, rng_box in self.config.objects.items():
            pos = rng.uniform(rng_box.low, rng_box.high)
            adr = self.object_qpos[name]
            data.qpos[adr : adr + 3] = pos
            data.qpos[adr + 3 : adr + 7] = (1.0, 0.0, 0.0, 0.0)
            poses[name] = np.concatenate([pos, [1.0, 0.0, 0.0, 0.0]])
        return poses

    def object_poses(self, data: mujoco.MjData) -> dict[str, np.ndarray]:
        return {n: data.qpos[a : a + 7].copy() for n, a in self.object_qpos.items()}

    def stage(self, data: mujoco.MjData) -> int:
        raise NotImplementedError

    def strict_holds(self, data: mujoco.MjData) -> bool:
        """Whether the strict stage's condition holds now (tasks with a strict stage)."""
        return False
