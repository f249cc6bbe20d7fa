"""Measure a task's scripted expert the way scripts/release_measure.py measures the original
release's, so the two can be compared on the same layouts.

The release's measurements (results/release-measure/*.json) record, per seeded layout, the
first step of each stage, where the fingers close on each object, where the held objects are
at the waypoints after a grasp, and the 14 joint positions at every step. `measure_episode`
records the same for our expert on the same layout; `compare` sets the two side by side.
Our fingers are not the release's meshes, so what is compared is what the object feels (the
height of the contact band and of the lowest fingertip, relative to the object's centre) and
where the object goes (its centre in the world), not the hands' own poses.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np

from act_bench.envs.aloha import AlohaEnv
from act_bench.errors import ActBenchError
from act_bench.storage.atomic_io import write_text
from act_bench.tasks.registry import get_task

# committed beside the code in a checkout (not shipped in the wheel)
RELEASE_MEASURES = Path(__file__).resolve().parents[2] / "results" / "release-measure"
# object name -> our geoms that make it up (the release's names are in release_measure.py)
OBJECT_GEOMS = {"cube": ["cube"], "peg": ["peg"],
                "socket": ["socket_bottom", "socket_top", "socket_left", "socket_right"]}


@dataclass(frozen=True)
class Tolerances:
    """How close -v3 must come to the release's means over the same layouts."""

    band_centroid_z: float = 0.0015  # m, the finger-object contact band's centroid height
    lowest_tip: float = 0.002  # m, the lowest fingertip's height
    held: float = 0.003  # m, a held object's centre at a meeting waypoint (each axis)
    stage_steps: int = 5  # the median first step of each stage


def release_measures(name: str = "mujoco-2.3.7") -> dict:
    """A committed measurement of the release (see scripts/release_measure.py)."""
    path = RELEASE_MEASURES / f"{name}.json"
    if not path.is_file():
        raise ActBenchError(f"{path} not found: the release's measurements live in a checkout of act-bench")
    return json.loads(path.read_text())


def _vertices(model, data, geom: int) -> np.ndarray:
    v = np.array([[a, b, c] for a in (-1, 1) for b in (-1, 1) for c in (-1, 1)]) * model.geom_size[geom]
    return data.geom_xpos[geom] + v @ data.geom_xmat[geom].reshape(3, 3).T


def grasp_measure(model, data, side: str, obj: str, centre: np.ndarray) -> dict:
    """Lowest pad corner and the pad-object contact band, relative to the object's centre (m)."""
    gid = lambda n: mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, n)  # noqa: E731
    pads = {gid(f"{side}/left_pad"), gid(f"{side}/right_pad")}
    objects = {gid(g) for g in OBJECT_GEOMS[obj]}
    lowest = min(_vertices(model, data, p)[:, 2].min() for p in pads)
    points = np.array([data.contact.pos[k] - centre for k in range(data.ncon)
                       if {int(data.contact.geom1[k]), int(data.contact.geom2[k])} & pads
                       and {int(data.contact.geom1[k]), int(data.contact.geom2[k])} & objects]).reshape(-1, 3)
    band = {"band_low": None, "band_high": None, "band_centroid": None} if len(points) == 0 else {
        "band_low": float(points[:, 2].min()), "band_high": float(points[:, 2].max()),
        "band_centroid": [float(v) for v in points.mean(axis=0)]}
    return {"lowest_tip": float(lowest - centre[2]), "contacts": int(len(points)), **band}


def expert_on_layout(task: str, layout: dict[str, list[float]], cameras=()) -> tuple[AlohaEnv, object]:
    """An env of `task` reset with its objects at `layout` (t = 0 positions), and its expert
    planned from them. The caller closes the env."""
    env = AlohaEnv(task, cameras=cameras)
    env.reset(seed=0)
    for name, pos in layout.items():
        adr = env.stage_rule.object_qpos[name]
        env.data.qpos[adr:adr + 7] = [*pos, 1, 0, 0, 0]
    mujoco.mj_forward(env.model, env.data)
    expert = get_task(task).expert(env)
    expert.reset()
    return env, expert


def measure_episode(task: str, layout: dict[str, list[float]], release_episode: dict) -> dict:
    """Our expert of `task` on `layout`, measured at the times the release's episode was."""
    env, expert = expert_on_layout(task, layout)
    try:
        names = env.task_config.stage_names
        grasps = {(g["t"], g["arm"], g["object"]) for g in release_episode["grasps"]}
        held = {(h["t"], h["object"]) for h in release_episode["held"]}
        body = {o: mujoco.mj_name2id(env.model, mujoco.mjtObj.mjOBJ_BODY, o) for o in layout}
        first, joints, grasp_out, held_out = {}, [], [], []
        for t in range(1, env.task_config.episode_len + 1):
            _, _, _, _, info = env.step(expert())
            for s in range(1, info["stage"] + 1):
                first.setdefault(names[s - 1], t)
            joints.append(env.robot.qpos(env.data).tolist())
            for tt, side, obj in grasps:
                if tt == t:
                    grasp_out.append({"t": t, "arm": side, "object": obj,
                                      **grasp_measure(env.model, env.data, side, obj, env.data.xpos[body[obj]].copy())})
            for tt, obj in held:
                if tt == t:
                    quat = env.data.xquat[body[obj]]
                    held_out.append({"t": t, "object": obj, "position": env.data.xpos[body[obj]].tolist(),
                                     "turned_deg": float(np.degrees(2 * np.arccos(min(1.0, abs(float(quat[0]))))))})
        return {"first_step": first, "max_stage": int(env._max_stage), "grasps": grasp_out, "held": held_out,
                "joints": joints}
    finally:
        env.close()


def compare(task: str, release_task: dict, ours: list[dict]) -> dict:
    """Ours beside the release: grasps (means: the release's over all its layouts, ours over
    ours), held positions and joint RMS (paired by layout: ours minus the release's) and stage
    steps (medians). `ours[i]` is measured on `release_task["episodes"][i]`'s layout."""
    episodes = release_task["episodes"][: len(ours)]
    out: dict = {"layouts": len(ours), "grasps": {}, "held": {}, "first_step": {}, "joint_rms": None}
    keys = {(g["t"], g["arm"], g["object"]) for g in episodes[0]["grasps"]}
    for t, arm, obj in sorted(keys):
        pick = lambda ep: next(g for g in ep["grasps"] if (g["t"], g["arm"], g["object"]) == (t, arm, obj))  # noqa: E731
        rel = [pick(ep) for ep in release_task["episodes"]]
        mine = [pick(ep) for ep in ours]
        out["grasps"][f"{arm}:{obj}@{t}"] = {
            "release": {"lowest_tip": _mean([g["lowest_tip"] for g in rel]),
                        "band_centroid_z": _mean([g["band_centroid"][2] for g in rel if g["band_centroid"]]),
                        "band": [_mean([g["band_low"] for g in rel if g["band_low"] is not None]),
                                 _mean([g["band_high"] for g in rel if g["band_high"] is not None])]},
            "ours": {"lowest_tip": _mean([g["lowest_tip"] for g in mine]),
                     "band_centroid_z": _mean([g["band_centroid"][2] for g in mine if g["band_centroid"]]),
                     "band": [_mean([g["band_low"] for g in mine if g["band_low"] is not None]),
                              _mean([g["band_high"] for g in mine if g["band_high"] is not None])]}}
    for h0 in episodes[0]["held"]:
        t, obj = h0["t"], h0["object"]
        rel = np.array([[np.add(h["steered"], h["offset"]) for h in ep["held"] if (h["t"], h["object"]) == (t, obj)][0]
                        for ep in episodes])
        mine = np.array([[h["position"] for h in ep["held"] if (h["t"], h["object"]) == (t, obj)][0] for ep in ours])
        out["held"][f'{h0["arm"]}:{obj}@{t}'] = {"ours_minus_release": (mine - rel).mean(axis=0).tolist(),
                                                 "sd": (mine - rel).std(axis=0).tolist()}
    for stage, rel in release_task["summary"]["first_step"].items():
        steps = [ep["first_step"][stage] for ep in ours if stage in ep["first_step"]]
        rel_steps = [ep["first_step"][stage] for ep in episodes if stage in ep["first_step"]]
        out["first_step"][stage] = {"release_median": float(np.median(rel_steps)) if rel_steps else None,
                                    "ours_median": float(np.median(steps)) if steps else None,
                                    "ours_reached": len(steps)}
    if "joints" in episodes[0] and "joints" in ours[0]:
        diff = np.array([ep["joints"] for ep in ours]) - np.array([ep["joints"] for ep in episodes])
        out["joint_rms"] = np.sqrt((diff ** 2).mean(axis=(0, 1))).tolist()
    return out


def _mean(values) -> float | None:
    return float(np.mean(values)) if len(values) else None


def within(report: dict, tol: Tolerances = Tolerances(), held: list[str] | None = None,
           tips: list[str] | None = None) -> list[str]:
    """The ways `compare`'s report misses the tolerances (empty when it meets them all).
    held / tips: the held-object and lowest-fingertip keys checked (default: every one)."""
    misses = []
    for key, g in report["grasps"].items():
        r, o = g["release"], g["ours"]
        if r["band_centroid_z"] is not None and (o["band_centroid_z"] is None
                                                 or abs(o["band_centroid_z"] - r["band_centroid_z"]) > tol.band_centroid_z):
            misses.append(f"{key}: band centroid z {o['band_centroid_z']} vs release {r['band_centroid_z']:.4f}")
        if (tips is None or key in tips) and abs(o["lowest_tip"] - r["lowest_tip"]) > tol.lowest_tip:
            misses.append(f"{key}: lowest tip {o['lowest_tip']:.4f} vs release {r['lowest_tip']:.4f}")
    for key, h in report["held"].items():
        if held is not None and key not in held:
            continue
        if max(abs(v) for v in h["ours_minus_release"]) > tol.held:
            misses.append(f"{key}: held object off by {np.round(h['ours_minus_release'], 4).tolist()} m")
    for stage, s in report["first_step"].items():
        if s["ours_median"] is None or abs(s["ours_median"] - s["release_median"]) > tol.stage_steps:
            misses.append(f"{stage}: first step {s['ours_median']} vs release {s['release_median']}")
    return misses


def load_layouts(task_family: str, measures: dict, count: int | None = None) -> list[tuple[dict, dict]]:
    """(layout, release episode) pairs of a task family ("transfer_cube" or "insertion")."""
    eps = measures["tasks"][task_family]["episodes"]
    return [(ep["layout"], ep) for ep in eps[:count]]


def family(task: str) -> str:
    return "insertion" if task.startswith("insertion") else "transfer_cube"


def measure_task(task: str, count: int | None = None, measures: dict | None = None) -> tuple[list[dict], dict]:
    """Our expert of `task` on the release's first `count` layouts, and the comparison."""
    measures = measures or release_measures()
    fam = family(task)
    ours = [measure_episode(task, layout, ep) for layout, ep in load_layouts(fam, measures, count)]
    return ours, compare(task, measures["tasks"][fam], ours)


def write_json(path: str | Path, value) -> None:
    write_text(Path(path), json.dumps(value, indent=1) + "\n")
