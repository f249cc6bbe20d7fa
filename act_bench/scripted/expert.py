"""The base of every task's scripted expert, planned in end-effector space.

An expert reads privileged simulator state (the objects' start poses) and plans per-arm
waypoints, linearly interpolated in time, as the original ACT release's experts do. Every
action it produces is a 14-d joint target executed by the joint-space environment, which is
what gets recorded. Each task module subclasses it.
"""
from __future__ import annotations

import numpy as np

from act_bench.scripted.trajectory import Trajectory, Waypoint
from act_bench.sim.ee_control import EndEffectorControl
from act_bench.sim.robot import SIDES

OPEN, CLOSED = 1.0, 0.0


class ScriptedExpert:
    """Base: per-arm trajectories planned at reset, IK to joint actions.

    MODES names the task's alternative ways of doing a step, each {option: probability}; the
    first option is the scripted expert's own. The human-like style draws one option per name
    each episode and passes them to initial_plan; the scripted style passes none (the firsts).
    """

    MODES: dict[str, dict[str, float]] = {}
    # The IK's pull of the wrist rolls towards 0 at t = 0, fading linearly to nothing at each
    # arm's first waypoint (sim.ik: takes the wrist across straight on the unrolled side, as the
    # original release's arms do). 0 leaves the IK exact throughout (-v1, -v2).
    APPROACH_POSTURE = 0.0

    def __init__(self, env, rng: np.random.Generator | None = None, noise: float = 0.0):
        self.env = env
        self.control = EndEffectorControl(env)
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self.noise = float(noise)
        self.t = 0
        self.plan: dict[str, Trajectory] = {}
        self.offsets: dict[str, np.ndarray] = {}  # side -> (T, 3) added to the commanded position
        self.style = "scripted"  # scripted.human sets "human" before reset: a task may plan differently

    def reset(self, modes: dict[str, str] | None = None) -> None:
        self.t = 0
        self.control.reset()
        self.offsets = {}
        # an expert without MODES may define initial_plan(self) only (plugins written before them)
        self.plan = self.initial_plan(modes) if modes else self.initial_plan()

    def __call__(self) -> np.ndarray:
        """Joint action for the current step (call once per env step)."""
        targets, grips, posture = {}, {}, {}
        for side in SIDES:
            pos, quat, grip = self.plan[side].at(self.t)
            if side in self.offsets:
                pos = pos + self.offsets[side][min(self.t, len(self.offsets[side]) - 1)]
            targets[side] = (pos, quat)
            grips[side] = grip
            if self.APPROACH_POSTURE > 0:
                first = self.plan[side].waypoints[1].t
                posture[side] = self.APPROACH_POSTURE * max(0.0, 1.0 - self.t / first)
        self.t += 1
        return self.control.joint_action(targets, grips, posture)

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
        q = self.env.stage_rule.object_poses(self.env.data)[name]
        return q[:3].copy(), q[3:7].copy()

    def mode(self, modes: dict[str, str] | None, name: str) -> str:
        """The drawn option of mode `name`, or the scripted expert's (the first) when none."""
        options = self.MODES[name]
        chosen = (modes or {}).get(name, next(iter(options)))
        if chosen not in options:
            raise ValueError(f"unknown option {chosen!r} of mode {name!r}; known: {', '.join(options)}")
        return chosen

    def steady_windows(self, plan: dict[str, Trajectory]) -> list[tuple[int, int]]:
        """Task-specific spans (steps, after retiming) where a person's hands hold steady, beside
        the grasps every plan has (see scripted.human); none by default."""
        return []

    def initial_plan(self, modes: dict[str, str] | None = None) -> dict[str, Trajectory]:
        """{"left": Trajectory, "right": Trajectory} for the episode about to start."""
        raise NotImplementedError
