"""Measure the original ACT release's scripted expert, as it ran on the MuJoCo it pinned.

    scripts/release_venv.sh                                    # once: MuJoCo 2.3.7 side venv
    /tmp/act-bench-release-venv/bin/python scripts/release_measure.py \
        --release PATH --out results/release-measure/mujoco-2.3.7.json
    .venv/bin/python scripts/release_measure.py --release PATH --torquescale 10 \
        --out results/release-measure/mujoco-3.17-torquescale10.json

PATH is a checkout of the release (github.com/tonyzhaozh/act); nothing of it is committed.
Needs only mujoco and numpy (runs in the side venv). Layouts are drawn from the release's own
ranges (utils.py sample_box_pose / sample_insertion_pose) with numpy's default_rng(seed), one
per seed; our tasks are later run on the same layouts (scripts/fidelity_v3.py).

Per layout it records, for the release's end-effector rollout:
- the first step of each reward stage (ee_sim_env.py get_reward, pairs taken either way round);
- at each grasp, once closed: the lowest fingertip and the band of finger-object contacts
  (lowest, highest and centroid of the contact points), relative to the object's centre;
- the held objects' centres relative to the steered point (the mocap target) at each waypoint
  after a grasp, and how far the object has turned from its start orientation;
- the 14 joint positions (6 joints and the normalised gripper per arm) at every step.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from original_release import OBJECT_JOINTS, OriginalEpisode  # noqa: E402

import mujoco  # noqa: E402  (original_release set MUJOCO_GL)

RANGES = {"transfer_cube": {"cube": ([0.0, 0.4, 0.05], [0.2, 0.6, 0.05])},
          "insertion": {"peg": ([0.1, 0.4, 0.05], [0.2, 0.6, 0.05]),
                        "socket": ([-0.2, 0.4, 0.05], [-0.1, 0.6, 0.05])}}
GRIP_OPEN, GRIP_CLOSED = 0.05800, 0.01844
FINGERS = {side: [f"vx300s_{side}/10_left_gripper_finger", f"vx300s_{side}/10_right_gripper_finger"]
           for side in ("left", "right")}
SOCKET = ["socket-1", "socket-2", "socket-3", "socket-4"]
# (time, arm, object, the object's geoms): the grasps, measured once the fingers have closed
GRASPS = {"transfer_cube": [(170, "right", "cube", ["red_box"]), (310, "left", "cube", ["red_box"])],
          "insertion": [(220, "right", "peg", ["red_peg"]), (220, "left", "socket", SOCKET)]}
# (arm, object, times): held objects against the steered point, at the waypoints after a grasp
HELD = {"transfer_cube": [("right", "cube", [170, 200, 220, 260, 300]), ("left", "cube", [310, 360, 399])],
        "insertion": [("right", "peg", [220, 285, 340, 355, 399]), ("left", "socket", [220, 285, 340, 355, 399])]}
STAGES = {"transfer_cube": ["touch", "lift", "handover_touch", "transfer"],
          "insertion": ["touch", "grasp", "contact", "insert"]}


def layouts(task: str, seeds: range) -> list[dict[str, list[float]]]:
    out = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        out.append({name: [round(float(v), 6) for v in rng.uniform(lo, hi)]
                    for name, (lo, hi) in RANGES[task].items()})
    return out


def contact_names(model, data) -> set[frozenset]:
    name = lambda g: mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_GEOM, g)  # noqa: E731
    return {frozenset((name(data.contact.geom1[k]), name(data.contact.geom2[k]))) for k in range(data.ncon)}


def reward(task: str, pairs: set[frozenset]) -> int:
    """ee_sim_env.py get_reward, with each pair matched in either order."""
    has = lambda a, b: frozenset((a, b)) in pairs  # noqa: E731
    if task == "transfer_cube":
        right = has("red_box", "vx300s_right/10_right_gripper_finger")
        left = has("red_box", "vx300s_left/10_left_gripper_finger")
        table = has("red_box", "table")
        return 4 if left and not table else 3 if left else 2 if right and not table else 1 if right else 0
    right = has("red_peg", "vx300s_right/10_right_gripper_finger")
    left = any(has(w, "vx300s_left/10_left_gripper_finger") for w in SOCKET)
    peg_table, socket_table = has("red_peg", "table"), any(has(w, "table") for w in SOCKET)
    off = not peg_table and not socket_table
    if has("red_peg", "pin"):
        return 4
    if any(has("red_peg", w) for w in SOCKET) and off:
        return 3
    return 2 if left and right and off else 1 if left and right else 0


STRICT_HOLD = 20  # steps: our -v3 tasks' strict stage (tasks/*_v3.toml strict_hold_steps)


def strict_holds(ep: OriginalEpisode, pairs: set[frozenset]) -> bool:
    """Our -v3 strict stage's condition, on the release's scene: the cube held by the left
    fingers alone off the table; the peg's inner end inside the socket's channel, neither on
    the table."""
    has = lambda a, b: frozenset((a, b)) in pairs  # noqa: E731
    if ep.task == "transfer_cube":
        left = any(has("red_box", f) for f in FINGERS["left"])
        right = any(has("red_box", f) for f in FINGERS["right"])
        return left and not right and not has("red_box", "table")
    if has("red_peg", "table") or any(has(w, "table") for w in SOCKET):
        return False
    m, d = ep.model, ep.data
    body = lambda j: m.jnt_bodyid[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, j)]  # noqa: E731
    peg, socket = body("red_peg_joint"), body("blue_socket_joint")
    axis = d.xmat[peg].reshape(3, 3)[:, 0]
    ends = [d.xpos[peg] + s * 0.06 * axis for s in (-1.0, 1.0)]
    inner = min(ends, key=lambda e: np.linalg.norm(e - d.xpos[socket]))
    local = d.xmat[socket].reshape(3, 3).T @ (inner - d.xpos[socket])
    return bool(np.all(np.abs(local) <= [0.06, 0.018, 0.018]))


def geom_vertices(model, data, geom: int) -> np.ndarray:
    if model.geom_type[geom] == mujoco.mjtGeom.mjGEOM_MESH:
        mesh = model.geom_dataid[geom]
        v = model.mesh_vert[model.mesh_vertadr[mesh]: model.mesh_vertadr[mesh] + model.mesh_vertnum[mesh]]
    else:
        v = np.array([[a, b, c] for a in (-1, 1) for b in (-1, 1) for c in (-1, 1)]) * model.geom_size[geom]
    return data.geom_xpos[geom] + v @ data.geom_xmat[geom].reshape(3, 3).T


def grasp_measure(model, data, fingers: list[str], object_geoms: list[str], centre) -> dict:
    """Lowest fingertip and the finger-object contact band, relative to the object's centre (m)."""
    gid = lambda n: mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, n)  # noqa: E731
    finger_ids, object_ids = {gid(f) for f in fingers}, {gid(g) for g in object_geoms}
    lowest = min(geom_vertices(model, data, f)[:, 2].min() for f in finger_ids)
    points = np.array([data.contact.pos[k] - centre for k in range(data.ncon)
                       if {int(data.contact.geom1[k]), int(data.contact.geom2[k])} & finger_ids
                       and {int(data.contact.geom1[k]), int(data.contact.geom2[k])} & object_ids])
    band = {"band_low": None, "band_high": None, "band_centroid": None} if len(points) == 0 else {
        "band_low": round(float(points[:, 2].min()), 5), "band_high": round(float(points[:, 2].max()), 5),
        "band_centroid": [round(float(v), 5) for v in points.mean(axis=0)]}
    return {"lowest_tip": round(float(lowest - centre[2]), 5), "contacts": int(len(points)), **band}


def turned_degrees(quat) -> float:
    return float(np.degrees(2 * np.arccos(min(1.0, abs(float(quat[0]))))))


def joints14(qpos) -> list[float]:
    grip = lambda x: (x - GRIP_CLOSED) / (GRIP_OPEN - GRIP_CLOSED)  # noqa: E731
    return [*qpos[0:6], grip(qpos[6]), *qpos[8:14], grip(qpos[14])]


def run_layout(release, task: str, layout: dict, torquescale: float | None) -> dict:
    ep = OriginalEpisode(release, task, {k: np.array(v) for k, v in layout.items()}, torquescale)
    grasps = {t: [(side, obj, geoms) for tt, side, obj, geoms in GRASPS[task] if tt == t] for t, *_ in GRASPS[task]}
    held_at = {t: [(side, obj) for side, obj, times in HELD[task] if t in times] for _, _, ts in HELD[task] for t in ts}
    first = {}
    joints, grasp_out, held_out, held_steps = [], [], [], 0
    for _ in range(400):
        ep.step()
        t = ep.t  # steps taken so far; the release's reward at this step
        pairs = contact_names(ep.model, ep.data)
        stage = reward(task, pairs)
        held_steps = held_steps + 1 if strict_holds(ep, pairs) else 0
        for s in range(1, stage + 1):
            first.setdefault(STAGES[task][s - 1], t)
        joints.append([round(float(v), 4) for v in joints14(ep.data.qpos)])
        for side, obj, geoms in grasps.get(t, []):
            centre = ep.object_pose(obj)[:3]
            grasp_out.append({"t": t, "arm": side, "object": obj,
                              **grasp_measure(ep.model, ep.data, FINGERS[side], geoms, centre)})
        for side, obj in held_at.get(t, []):
            pose = ep.object_pose(obj)
            steered = ep.data.mocap_pos[0 if side == "left" else 1]
            held_out.append({"t": t, "arm": side, "object": obj,
                             "steered": [round(float(v), 5) for v in steered],
                             "offset": [round(float(v), 5) for v in pose[:3] - steered],
                             "turned_deg": round(turned_degrees(pose[3:]), 3)})
    final = reward(task, contact_names(ep.model, ep.data))
    max_stage = max([0, *[STAGES[task].index(k) + 1 for k in first]])
    return {"layout": layout, "first_step": first, "max_stage": max_stage, "final_stage": final,
            "strict": bool(max_stage == 4 and held_steps >= STRICT_HOLD), "grasps": grasp_out, "held": held_out,
            "joints": joints}


def summarise(task: str, rows: list[dict]) -> dict:
    """Across layouts: successes, stage steps (median, range) and grasp / held means."""
    out = {"success": sum(r["max_stage"] == 4 for r in rows), "strict": sum(r["strict"] for r in rows),
           "layouts": len(rows), "first_step": {}}
    for stage in STAGES[task]:
        steps = [r["first_step"][stage] for r in rows if stage in r["first_step"]]
        if steps:
            out["first_step"][stage] = {"median": float(np.median(steps)), "min": min(steps), "max": max(steps),
                                        "n": len(steps)}
    grasps = {}
    for r in rows:
        for g in r["grasps"]:
            grasps.setdefault(f'{g["arm"]}:{g["object"]}@{g["t"]}', []).append(g)
    out["grasps"] = {k: {"lowest_tip_mean": round(float(np.mean([g["lowest_tip"] for g in v])), 5),
                         "lowest_tip_min": min(g["lowest_tip"] for g in v),
                         "lowest_tip_max": max(g["lowest_tip"] for g in v),
                         "band_centroid_mean": [round(float(x), 5) for x in np.nanmean(
                             [g["band_centroid"] or [np.nan] * 3 for g in v], axis=0)],
                         "band_low_mean": round(float(np.nanmean([g["band_low"] if g["band_low"] is not None else np.nan for g in v])), 5),
                         "band_high_mean": round(float(np.nanmean([g["band_high"] if g["band_high"] is not None else np.nan for g in v])), 5)}
                     for k, v in grasps.items()}
    held = {}
    for r in rows:
        for h in r["held"]:
            held.setdefault(f'{h["arm"]}:{h["object"]}@{h["t"]}', []).append(h)
    out["held"] = {k: {"offset_mean": [round(float(x), 5) for x in np.mean([h["offset"] for h in v], axis=0)],
                       "offset_sd": [round(float(x), 5) for x in np.std([h["offset"] for h in v], axis=0)],
                       "turned_deg_mean": round(float(np.mean([h["turned_deg"] for h in v])), 3)}
                   for k, v in held.items()}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--release", required=True, help="a checkout of the original ACT release")
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--layouts", type=int, default=20, help="seeded layouts per task (seeds 0..N-1)")
    parser.add_argument("--tasks", default="transfer_cube,insertion")
    parser.add_argument("--no-joints", action="store_true", help="leave out the per-step joint positions")
    parser.add_argument("--torquescale", type=float, default=None,
                        help="set the mocap welds' torquescale (default: the model's own)")
    args = parser.parse_args(argv)
    if args.layouts < 1:
        parser.error("--layouts must be at least 1")
    tasks = args.tasks.split(",")
    unknown = [t for t in tasks if t not in RANGES]
    if unknown:
        parser.error(f"unknown task {unknown[0]!r}; known: {', '.join(RANGES)}")
    record = {"mujoco": mujoco.__version__, "numpy": np.__version__, "python": sys.version.split()[0],
              "torquescale": args.torquescale, "layout_seeds": [0, args.layouts], "tasks": {}}
    for task in tasks:
        rows = []
        for i, layout in enumerate(layouts(task, range(args.layouts))):
            rows.append(run_layout(args.release, task, layout, args.torquescale))
            if args.no_joints:
                del rows[-1]["joints"]
            print(f"{task} layout {i}: stage {rows[-1]['max_stage']} strict {rows[-1]['strict']} "
                  f"first {rows[-1]['first_step']}", flush=True)
        record["tasks"][task] = {"summary": summarise(task, rows), "episodes": rows}
        print(json.dumps(record["tasks"][task]["summary"]), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=out.parent, delete=False, suffix=".tmp") as f:
        json.dump(record, f, separators=(",", ":"))
        f.write("\n")
    os.chmod(f.name, 0o644)
    os.replace(f.name, out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
