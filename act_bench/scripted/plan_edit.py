"""Edits of a two-arm plan ({side: Trajectory}) that keep its waypoints but change when and
how they are reached: retiming (each segment slower or faster, pauses), holds, a failed
first grasp redone. They know nothing of any task, so every expert's plan takes them.

Both arms share one clock: a pause or a slower segment stops or slows both hands, as a
person's attention does, so the hand-over and the insertion stay coordinated.
"""
from __future__ import annotations

import numpy as np

from act_bench.scripted.trajectory import Trajectory, Waypoint

Plan = dict[str, Trajectory]


def breakpoints(plan: Plan) -> list[int]:
    """Every step at which some arm reaches a waypoint, ascending."""
    return sorted({w.t for traj in plan.values() for w in traj.waypoints})


def _at_times(traj: Trajectory, times: list[int]) -> list[Waypoint]:
    """The arm's pose at each of `times` (its waypoints where it has one there)."""
    own = {w.t: w for w in traj.waypoints}
    return [own.get(t) or Waypoint(t, *traj.at(t)) for t in times]


def retime(plan: Plan, factors, pauses, end_step: int) -> tuple[Plan, float]:
    """Segment i (between breakpoints i and i+1) takes factors[i] times as long; the plan
    stands still for pauses[i] steps on reaching breakpoint i. When the result would end
    after end_step, every duration is scaled down alike to fit. Returns (plan, that scale)."""
    times = breakpoints(plan)
    factors, pauses = np.asarray(factors, float), np.asarray(pauses, float)
    if len(factors) != len(times) - 1 or len(pauses) != len(times):
        raise ValueError(f"{len(times)} breakpoints need {len(times) - 1} factors and {len(times)} pauses")
    span = np.diff(times) * factors
    total = times[0] + span.sum() + pauses.sum()
    scale = min(1.0, (end_step - times[0]) / (total - times[0])) if total > times[0] else 1.0
    arrive, leave, clock = [], [], float(times[0])
    for i in range(len(times)):
        if i:
            clock += span[i - 1] * scale
        arrive.append(clock)
        clock += pauses[i] * scale
        leave.append(clock)
    arrive_i = np.round(arrive).astype(int)
    leave_i = np.maximum(np.round(leave).astype(int), arrive_i)
    out = {}
    for side, traj in plan.items():
        wps = []
        for w, a, b in zip(_at_times(traj, times), arrive_i, leave_i):
            wps.append(Waypoint(int(a), w.pos, w.quat, w.grip))
            if b > a:
                wps.append(Waypoint(int(b), w.pos, w.quat, w.grip))
        out[side] = Trajectory(wps)
    return out, float(scale)


def hold(plan: Plan, t: int, steps: int) -> Plan:
    """Both arms stand still at step t for `steps` steps; everything after comes later."""
    out = {}
    for side, traj in plan.items():
        here = Waypoint(t, *traj.at(t))
        before = [w for w in traj.waypoints if w.t < t]
        at_t = [w for w in traj.waypoints if w.t == t] or [here]
        after = [Waypoint(w.t + steps, w.pos, w.quat, w.grip) for w in traj.waypoints if w.t > t]
        last = at_t[-1]
        out[side] = Trajectory(before + at_t + [Waypoint(t + steps, last.pos, last.quat, last.grip)] + after)
    return out


def grasps(plan: Plan) -> list[tuple[str, int]]:
    """(side, index k) of every grasp: waypoint k open, k + 1 closed at the same place, and
    a waypoint before k (where the hand comes from)."""
    found = []
    for side, traj in plan.items():
        wps = traj.waypoints
        for k in range(1, len(wps) - 1):
            if wps[k].grip > 0.5 and wps[k + 1].grip < 0.5 and np.allclose(wps[k].pos, wps[k + 1].pos, atol=1e-6):
                found.append((side, k))
    return found


def picks(plan: Plan) -> list[tuple[str, int]]:
    """The grasps the hand comes down to (from above, steeper than 30 degrees): picking an
    object up. A hand-over's grasp is not one: the other hand is already letting go there."""
    return [(side, k) for side, k in grasps(plan) if approach_direction(plan, side, k)[2] > 0.5]


def approach_direction(plan: Plan, side: str, k: int) -> np.ndarray:
    """Unit vector from grasp k of plan[side] back towards where the hand comes from."""
    wps = plan[side].waypoints
    away = wps[k - 1].pos - wps[k].pos
    norm = np.linalg.norm(away)
    return away / norm if norm > 1e-9 else np.array([0.0, 0.0, 1.0])


def redo_grasp(plan: Plan, side: str, k: int, miss, steps, retreat: float) -> Plan:
    """The grasp at plan[side] waypoint k first reaches waypoint k's place + `miss` on the
    plan's schedule, closes there, reopens, backs off `retreat` metres from the grasp towards
    where the hand came from, and comes in again to the planned grasp. The other arm waits
    meanwhile. steps: (close, reopen, back off, come in again)."""
    grasp = plan[side].waypoints[k]
    close, reopen, back, again = (int(s) for s in steps)
    total = close + reopen + back + again
    t = grasp.t
    out = hold(plan, t, total)  # the grasp waypoint now sits at t + total
    wrong = grasp.pos + np.asarray(miss, float)
    away = grasp.pos + retreat * approach_direction(plan, side, k)
    q, g = grasp.quat, grasp.grip
    tries = [Waypoint(t, wrong, q, g), Waypoint(t + close, wrong, q, 0.0),
             Waypoint(t + close + reopen, wrong, q, g), Waypoint(t + close + reopen + back, away, q, g)]
    kept = [w for w in out[side].waypoints if not t <= w.t < t + total]
    out[side] = Trajectory(kept + tries)
    return out


def last_move(traj: Trajectory) -> tuple[int, int]:
    """(start, end) step of the arm's last segment that moves the hand."""
    wps = traj.waypoints
    for a, b in zip(wps[-2::-1], wps[::-1]):
        if not np.allclose(a.pos, b.pos, atol=1e-6):
            return a.t, b.t
    return wps[-1].t, wps[-1].t
