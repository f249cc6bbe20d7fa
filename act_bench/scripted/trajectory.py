"""Piecewise-linear end-effector trajectories: position lerp, orientation slerp, gripper lerp."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from act_bench.sim.poses import slerp


@dataclass(frozen=True)
class Waypoint:
    t: int  # control step at which the pose is reached
    pos: np.ndarray
    quat: np.ndarray
    grip: float  # 0 closed .. 1 open


class Trajectory:
    """Waypoints of one arm, sorted by time; holds the last one after it."""

    def __init__(self, waypoints: list[Waypoint]):
        self.waypoints = sorted(waypoints, key=lambda w: w.t)

    def replace_from(self, t: int, waypoints: list[Waypoint]) -> None:
        """Keep the plan up to step t (as a waypoint there) and follow `waypoints` after it."""
        here = self.at(t)
        kept = [w for w in self.waypoints if w.t < t]
        self.waypoints = sorted(kept + [Waypoint(t, *here)] + list(waypoints), key=lambda w: w.t)

    def at(self, t: int) -> tuple[np.ndarray, np.ndarray, float]:
        wps = self.waypoints
        if t <= wps[0].t:
            w = wps[0]
            return w.pos, w.quat, w.grip
        for a, b in zip(wps, wps[1:]):
            if a.t <= t <= b.t:
                s = 0.0 if b.t == a.t else (t - a.t) / (b.t - a.t)
                return (
                    (1 - s) * a.pos + s * b.pos,
                    slerp(a.quat, b.quat, s),
                    (1 - s) * a.grip + s * b.grip,
                )
        w = wps[-1]
        return w.pos, w.quat, w.grip
