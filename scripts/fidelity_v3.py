"""Our tasks' experts (-v1, -v2, -v3) beside the original release's, on the release's layouts.

    python scripts/fidelity_v3.py [--layouts 20]

Reads the committed measurement of the release on the MuJoCo it pinned
(results/release-measure/mujoco-2.3.7.json, made by scripts/release_measure.py), runs each of
our experts on the same seeded layouts (act_bench.demos.fidelity) and writes
results/release-measure/comparison.json (grasp heights, contact bands, held-object offsets at
the waypoints, first stage steps, per-joint RMS differences, success) and
docs/fidelity_joints.png (joint trajectories on one layout, and the per-joint RMS). Prints the
tables docs/fidelity.md shows.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import act_bench  # noqa: F401  (registers the tasks)
from act_bench.demos.fidelity import measure_task, release_measures
from act_bench.storage.atomic_io import atomic_path, write_text

REPO = Path(__file__).resolve().parents[1]
VERSIONS = {"transfer_cube": ["transfer_cube", "transfer_cube_v2", "transfer_cube_v3"],
            "insertion": ["insertion", "insertion_v2", "insertion_v3"]}
JOINTS = ["waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate", "gripper"]


def run(layouts: int) -> tuple[dict, dict]:
    measures = release_measures()
    out, trajectories = {"layouts": layouts, "release": {"mujoco": measures["mujoco"]}, "tasks": {}}, {}
    for family, names in VERSIONS.items():
        rel = measures["tasks"][family]
        out["release"][family] = {k: rel["summary"][k] for k in ("success", "strict", "first_step", "grasps", "held")}
        out["tasks"][family] = {}
        trajectories[family] = {"release": np.array(rel["episodes"][0]["joints"])}
        for name in names:
            ours, report = measure_task(name, layouts, measures)
            report["success"] = sum(o["max_stage"] >= 4 for o in ours)
            out["tasks"][family][name] = report
            trajectories[family][name] = np.array(ours[0]["joints"])
            print(f"{name}: {report['success']}/{layouts}", flush=True)
    return out, trajectories


def figure(trajectories: dict, comparison: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 7, figsize=(21, 9))
    for row, (family, arm) in enumerate((("transfer_cube", 1), ("insertion", 0))):
        for j, joint in enumerate(JOINTS):
            ax = axes[row][j]
            for name, traj in trajectories[family].items():
                style = {"release": dict(color="black", lw=2.0)}.get(name, dict(lw=1.2))
                label = "release (MuJoCo 2.3.7)" if name == "release" else name
                ax.plot(traj[:, 7 * arm + j], label=label, **style)
            ax.set_title(f"{family} {'right' if arm else 'left'} {joint}", fontsize=9)
            ax.set_xlabel("step", fontsize=8)
        axes[row][0].legend(fontsize=7)
    for k, family in enumerate(VERSIONS):
        ax = plt.subplot2grid((3, 2), (2, k), fig=fig)
        names = VERSIONS[family]
        width = 0.8 / len(names)
        for i, name in enumerate(names):
            rms = comparison["tasks"][family][name]["joint_rms"]
            ax.bar(np.arange(14) + i * width, rms, width, label=name)
        ax.set_xticks(np.arange(14) + 0.4, [f"{s[0]}{j}" for s in ("L", "R") for j in range(7)], fontsize=8)
        ax.set_ylabel("RMS difference from the release (rad; gripper 0..1)", fontsize=8)
        ax.set_title(f"{family}: per-joint RMS over {comparison['layouts']} layouts x 400 steps", fontsize=9)
        ax.legend(fontsize=7)
    for ax in axes[2]:
        ax.remove()
    fig.subplots_adjust(hspace=0.45, wspace=0.3, left=0.04, right=0.99, top=0.96, bottom=0.05)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=60, format="png")
    plt.close(fig)


def tables(c: dict) -> str:
    lines = []
    for family, names in VERSIONS.items():
        rel = c["release"][family]
        cols = ["release (2.3.7)", *names]
        lines += [f"\n### {family}\n", "| measure | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
        lines.append("| success (of %d) | %d | " % (c["layouts"], rel["success"])
                     + " | ".join(str(c["tasks"][family][n]["success"]) for n in names) + " |")
        for key in c["tasks"][family][names[-1]]["grasps"]:
            r = rel["grasps"][key]
            lines.append(f"| {key} lowest fingertip (mm) | {1000 * r['lowest_tip_mean']:.1f} | " + " | ".join(
                f"{1000 * c['tasks'][family][n]['grasps'][key]['ours']['lowest_tip']:.1f}" for n in names) + " |")
            lines.append(f"| {key} contact band centroid z (mm) | {1000 * r['band_centroid_mean'][2]:.1f} | " + " | ".join(
                _mm(c["tasks"][family][n]["grasps"][key]["ours"]["band_centroid_z"]) for n in names) + " |")
        for key in c["tasks"][family][names[-1]]["held"]:
            lines.append(f"| {key}: ours - release (mm) | 0 | " + " | ".join(
                "(" + ", ".join(f"{1000 * v:.1f}" for v in c["tasks"][family][n]["held"][key]["ours_minus_release"]) + ")"
                for n in names) + " |")
        for stage, s in c["tasks"][family][names[-1]]["first_step"].items():
            lines.append(f"| first step, {stage} (median) | {s['release_median']:.0f} | " + " | ".join(
                _step(c["tasks"][family][n]["first_step"].get(stage)) for n in names) + " |")
        lines.append("| joint RMS, mean of 14 (rad) | 0 | " + " | ".join(
            f"{np.mean(c['tasks'][family][n]['joint_rms']):.3f}" for n in names) + " |")
    return "\n".join(lines)


def _mm(v) -> str:
    return "-" if v is None else f"{1000 * v:.1f}"


def _step(s) -> str:
    return "-" if not s or s["ours_median"] is None else f"{s['ours_median']:.0f}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layouts", type=int, default=20)
    args = parser.parse_args(argv)
    comparison, trajectories = run(args.layouts)
    write_text(REPO / "results" / "release-measure" / "comparison.json", json.dumps(comparison, indent=1) + "\n")
    figure(trajectories, comparison, REPO / "docs" / "fidelity_joints.png")
    print(tables(comparison))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
