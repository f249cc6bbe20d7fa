"""Measure act-bench's -v2 tasks against the original ACT release, from the release's own files.

    python scripts/fidelity_check.py grasp  --release PATH   # where the fingers close, both
    python scripts/fidelity_check.py render --release PATH   # top-camera frames side by side

PATH is a checkout of the original release (github.com/tonyzhaozh/act); nothing of it is
committed here. `grasp` runs the release's end-effector expert (scripts/original_release.py)
and ours on the same object positions and prints, at the moment each grasp has closed, the
lowest fingertip's height and the centroid of the finger-object contacts, both relative to the
object's centre (metres, world axes): the quantities our -v2 experts are calibrated to match.
`render` writes docs/fidelity_*.png: the release's top camera beside ours at 480x640 and
96x128, at reset and mid-task. Both need MUJOCO_GL=egl (set when unset).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import act_bench  # noqa: F401  (registers the tasks)
import mujoco
from act_bench.storage.atomic_io import write_text
from original_release import OriginalEpisode  # beside this file: the script's folder is on sys.path
from release_measure import geom_vertices

REPO = Path(__file__).resolve().parents[1]
# (task, object positions at t = 0, [(time, side, object, original's geoms, ours)])
CASES = [
    ("transfer_cube", {"cube": [0.1, 0.5, 0.05]}, [
        (170, "right", "cube", ["red_box"], ["cube"]),
        (310, "left", "cube", ["red_box"], ["cube"])]),
    ("insertion", {"peg": [0.15, 0.5, 0.05], "socket": [-0.15, 0.5, 0.05]}, [
        (220, "right", "peg", ["red_peg"], ["peg"]),
        (220, "left", "socket", [f"socket-{i}" for i in range(1, 5)],
         ["socket_bottom", "socket_top", "socket_left", "socket_right"])]),
]


def _gid(model, name):
    return mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, name)


_vertices = geom_vertices  # a geom's corners (its mesh's vertices), in the world


def finger_measure(model, data, fingers, object_geoms, centre) -> dict:
    """Lowest fingertip height and finger-object contact centroid, relative to `centre`."""
    fingers = [_gid(model, f) for f in fingers]
    objects = {_gid(model, g) for g in object_geoms}
    lowest = min(_vertices(model, data, f)[:, 2].min() for f in fingers)
    points = [data.contact.pos[k] for k in range(data.ncon)
              if {int(data.contact.geom1[k]), int(data.contact.geom2[k])} & objects
              and {int(data.contact.geom1[k]), int(data.contact.geom2[k])} & set(fingers)]
    centroid = (np.mean(points, axis=0) - centre) if points else np.full(3, np.nan)
    return {"lowest_tip_dz": round(float(lowest - centre[2]), 4),
            "contact_centroid": [round(float(v), 4) for v in centroid], "contacts": len(points)}


def handover_measure(model, data, fingers, centre) -> dict:
    """The left fingers around the cube at the hand-over: how far their tips reach past the
    cube's centre along x, and the middle of their span in y and z, relative to the centre."""
    v = np.concatenate([_vertices(model, data, _gid(model, f)) for f in fingers])
    mid = (v.min(axis=0) + v.max(axis=0)) / 2 - centre
    return {"tip_dx": round(float(v[:, 0].max() - centre[0]), 4),
            "mid_dy": round(float(mid[1]), 4), "mid_dz": round(float(mid[2]), 4)}


def measure_original(release, task, positions, checks):
    """At each check, the release's fingers against the object. On current MuJoCo the release's
    expert flings the cube out of the right hand as it lifts (t ~ 190), so its hand-over
    cannot be measured: that row says where the cube lies instead."""
    ep = OriginalEpisode(release, task, positions)
    out = []
    for t, side, obj, geoms, _ in checks:
        ep.run_until(t)
        fingers = [f"vx300s_{side}/10_{f}_gripper_finger" for f in ("left", "right")]
        if t < 300:
            out.append(finger_measure(ep.model, ep.data, fingers, geoms, ep.object_pose(obj)[:3]))
        else:
            out.append({"not_measurable": f"the release's {obj} lies at {np.round(ep.object_pose(obj)[:3], 3).tolist()}"})
    return out


def measure_ours(task, positions, checks):
    from act_bench.tasks.registry import get_task

    spec = get_task(f"{task}_v2")
    from act_bench.envs.aloha import AlohaEnv

    env = AlohaEnv(spec.name, cameras=())
    env.reset(seed=0)
    for name, pos in positions.items():  # the same start as the release's case
        adr = env.stage_rule.object_qpos[name]
        env.data.qpos[adr:adr + 7] = [*pos, 1, 0, 0, 0]
    mujoco.mj_forward(env.model, env.data)
    expert = spec.expert(env)
    expert.reset()
    out, t = [], 0
    for when, side, obj, _, geoms in checks:
        while t < when:
            env.step(expert())
            t += 1
        centre = env.data.xpos[mujoco.mj_name2id(env.model, mujoco.mjtObj.mjOBJ_BODY, obj)]
        pads = [f"{side}/left_pad", f"{side}/right_pad"]
        measure = finger_measure(env.model, env.data, pads, geoms, centre) if when < 300 else \
            handover_measure(env.model, env.data, pads, centre)
        out.append(measure)
    env.close()
    return out


def grasp(release) -> list[dict]:
    rows = []
    for task, positions, checks in CASES:
        original = measure_original(release, task, positions, checks)
        ours = measure_ours(task, positions, checks)
        for (t, side, obj, _, _), a, b in zip(checks, original, ours):
            rows.append({"task": task, "t": t, "hand": side, "object": obj, "original": a, "ours": b})
            print(f"{task:14s} t={t:3d} {side:5s} {obj:6s} original {a}\n{'':34s} ours     {b}")
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("grasp", "render"))
    parser.add_argument("--release", required=True, help="a checkout of the original ACT release")
    parser.add_argument("--out", default=str(REPO / "docs"))
    parser.add_argument("--version", default="v2", choices=("v2", "v3"), help="our tasks to render (render)")
    args = parser.parse_args(argv)
    if args.what == "grasp":
        rows = grasp(args.release)
        write_text(Path(args.out, "fidelity_grasp.json"), json.dumps(rows, indent=1) + "\n")
    else:
        from fidelity_render import render_all

        render_all(args.release, Path(args.out), args.version)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
