"""Show that the human-like demos are what they claim (README, Human-like demonstrations).

    python scripts/human_style_figures.py [--episodes 50] [--work /tmp/human_style]

Records --episodes scripted and human-like demos of each task without cameras (through
generate-demos itself, resumable, in --work), then writes
  docs/human_style_paths.png   the right hand's path in 20 of them (forward kinematics of the recorded
                               joints): top view and height over time, scripted vs human-like;
  docs/human_style_spread.png  how far apart two demos' actions are at nearest-neighbour states;
  docs/human_style_modes.png   each mode option's stated probability, its frequency over 2000
                               planning-only draws, and in the recorded demos;
  docs/human_style_stats.json  the numbers behind them, and each style's recorded/attempted share.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mujoco  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from act_bench.demos.generate import DemoSettings, generate_demos  # noqa: E402
from act_bench.envs import make_env  # noqa: E402
from act_bench.evaluation.intervals import wilson_interval  # noqa: E402
from act_bench.runtime.seeding import demo_seed  # noqa: E402
from act_bench.scripted.human import draw_modes, human_rng  # noqa: E402
from act_bench.storage.layout import episode_path  # noqa: E402
from act_bench.tasks.registry import get_task  # noqa: E402

DOCS = Path(__file__).resolve().parents[1] / "docs"
TASKS = ("transfer_cube_v2", "insertion_v2")
STYLES = ("scripted", "human")
COLORS = {"scripted": "tab:blue", "human": "tab:orange"}
OBJECT = {"transfer_cube_v2": "cube", "insertion_v2": "peg"}
OBJECT_WEIGHT = 3.0  # 1 cm of the object's start counts as 0.03 rad of joint angle
MATCH_RADIUS = 0.1  # states closer than this count as matched (chosen before measuring)
DRAWS = 2000
FLOOR = 1e-4  # identical actions (the scripted expert's at identical states) are drawn here
PATHS = 20  # demos drawn in the paths figure


def load(task: str, style: str, episodes: int, work: Path) -> tuple[dict, list[dict]]:
    """Record (or resume) the folder; return its manifest and, per episode, the joints, actions,
    the right hand's measured path and the object's start (x, y)."""
    folder = work / f"{task}_{style}"
    manifest = generate_demos(task, episodes, folder, DemoSettings(0, [], (48, 64), style=style), progress=False)
    env = make_env(task, cameras=())
    site = env.robot.grip_site[1]  # the right hand
    out = []
    for i in range(episodes):
        with h5py.File(episode_path(folder, i), "r") as f:
            qpos, action = f["observations/qpos"][()], f["action"][()]
            start = json.loads(f.attrs["object_poses"])[OBJECT[task]][:2]
        hand = np.empty((len(qpos), 3))
        for t, q in enumerate(qpos):
            env.robot.set_qpos(env.data, q)
            mujoco.mj_kinematics(env.model, env.data)
            hand[t] = env.data.site_xpos[site]
        out.append({"qpos": qpos, "action": action, "hand": hand, "start": np.array(start)})
    return manifest, out


def nearest_pairs(demos: list[dict], every: int = 5) -> np.ndarray:
    """For each (demo, step, other demo): the distance from that state to the other demo's
    nearest state, and the distance between the two actions there (rad, 14 joints). A state
    is the 14 joints plus the object's start (x, y) times OBJECT_WEIGHT: what the policy sees."""
    states, actions, owner = [], [], []
    for d, demo in enumerate(demos):
        idx = np.arange(0, len(demo["qpos"]), every)
        states.append(np.hstack([demo["qpos"][idx], np.repeat(demo["start"][None] * OBJECT_WEIGHT, len(idx), 0)]))
        actions.append(demo["action"][idx])
        owner.append(np.full(len(idx), d))
    states, actions, owner = np.concatenate(states), np.concatenate(actions), np.concatenate(owner)
    pairs = []
    for i in range(len(states)):
        dist = np.linalg.norm(states - states[i], axis=1)
        for d in np.unique(owner):
            if d != owner[i]:
                j = np.flatnonzero(owner == d)[np.argmin(dist[owner == d])]
                pairs.append((dist[j], np.linalg.norm(actions[j] - actions[i])))
    return np.array(pairs)


def fig_paths(data: dict, path: Path) -> None:
    fig, axes = plt.subplots(len(TASKS), 4, figsize=(13, 3.1 * len(TASKS)), squeeze=False)
    for r, task in enumerate(TASKS):
        for c, style in enumerate(STYLES):
            top, height = axes[r, c], axes[r, 2 + c]
            for demo in data[task, style][:PATHS]:
                h = demo["hand"]
                top.plot(h[:, 0], h[:, 1], lw=0.7, color=COLORS[style], alpha=0.6)
                height.plot(h[:, 2], lw=0.7, color=COLORS[style], alpha=0.6)
            top.set(title=f"{task} {style}: top view", xlabel="x (m)", ylabel="y (m)")
            top.set_aspect("equal", adjustable="datalim")
            height.set(title=f"{task} {style}: height", xlabel="step (50 Hz)", ylabel="z (m)")
    fig.suptitle(f"The right hand's path in {PATHS} recorded demos")
    _save(fig, path)


def fig_spread(pairs: dict, path: Path) -> None:
    """Median action distance against state distance (log bins), per style."""
    fig, axes = plt.subplots(1, len(TASKS), figsize=(10, 3.2), squeeze=False)
    for ax, task in zip(axes[0], TASKS):
        for style in STYLES:
            d, a = pairs[task, style].T
            bins = np.logspace(-3, 0.5, 22)
            which = np.digitize(d, bins)
            mid = [np.sqrt(bins[k - 1] * bins[k]) for k in range(1, len(bins)) if (which == k).sum() >= 10]
            med = [np.median(a[which == k]) for k in range(1, len(bins)) if (which == k).sum() >= 10]
            near = a[d < MATCH_RADIUS]
            ax.plot(mid, np.maximum(med, FLOOR), "o-", ms=3, color=COLORS[style],
                    label=f"{style}: {np.median(near):.3f} rad median within {MATCH_RADIUS} ({len(near)} pairs)")
        ax.axvline(MATCH_RADIUS, color="grey", lw=0.5)
        ax.set(xscale="log", yscale="log", title=task, xlabel="distance to the other demo's nearest state",
               ylabel=f"action distance (rad, floor {FLOOR:g})")
        ax.legend(fontsize=7)
    _save(fig, path)


def mode_table(task: str, recorded: dict) -> list[dict]:
    """Per option: stated p, frequency over DRAWS planning-only draws, and in the recorded demos."""
    modes = get_task(task).expert.MODES
    drawn = [draw_modes(modes, human_rng(demo_seed(0, i))) for i in range(DRAWS)]
    rows = []
    n_rec = recorded["episodes"]
    for name, options in modes.items():
        for option, p in options.items():
            k = recorded["modes"].get(name, {}).get(option, 0)
            rows.append({"mode": name, "option": option, "stated": p,
                         "drawn": sum(d[name] == option for d in drawn) / DRAWS,
                         "recorded": k / n_rec, "recorded_ci": list(wilson_interval(k, n_rec))})
    return rows


def fig_modes(tables: dict, path: Path) -> None:
    fig, axes = plt.subplots(1, len(TASKS), figsize=(12, 3.4), squeeze=False)
    for ax, task in zip(axes[0], TASKS):
        rows = tables[task]
        x = np.arange(len(rows))
        ax.bar(x - 0.27, [r["stated"] for r in rows], 0.27, label="stated", color="grey")
        ax.bar(x, [r["drawn"] for r in rows], 0.27, label=f"drawn ({DRAWS}, planning only)", color="tab:green")
        rec = np.array([r["recorded"] for r in rows])
        ci = np.array([r["recorded_ci"] for r in rows]).T
        ax.bar(x + 0.27, rec, 0.27, yerr=[rec - ci[0], ci[1] - rec], label="recorded (95% Wilson)",
               color="tab:orange", capsize=2)
        ax.set_xticks(x, [f"{r['mode']}\n{r['option']}" for r in rows], fontsize=6, rotation=45, ha="right")
        ax.set(title=task, ylabel="share of episodes", ylim=(0, 1))
        ax.legend(fontsize=7)
    _save(fig, path)


def _save(fig, path: Path) -> None:
    """A small PNG: 256-colour palette."""
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=80)
    plt.close(fig)
    Image.open(tmp).convert("RGB").quantize(256).save(tmp, optimize=True)
    tmp.replace(path)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--episodes", type=int, default=50, help="demos per task and style (default 50)")
    p.add_argument("--work", default="/tmp/human_style", help="where the demos are recorded (resumable)")
    args = p.parse_args()
    work = Path(args.work)
    data, stats = {}, {"episodes": args.episodes, "match_radius": MATCH_RADIUS, "tasks": {}}
    pairs, tables = {}, {}
    for task in TASKS:
        entry = stats["tasks"][task] = {}
        for style in STYLES:
            manifest, data[task, style] = load(task, style, args.episodes, work)
            pairs[task, style] = pp = nearest_pairs(data[task, style])
            near = pp[pp[:, 0] < MATCH_RADIUS, 1]
            entry[style] = {"recorded": manifest["episodes"], "attempted": manifest["attempts"],
                            "share": manifest["episodes"] / manifest["attempts"], "matched_pairs": len(near),
                            "matched_action_distance_median_rad": float(np.median(near)) if len(near) else None}
            if style == "human":
                entry[style]["draws"] = manifest["draws"]
                tables[task] = entry["modes"] = mode_table(task, manifest["draws"])
            print(task, style, json.dumps({k: v for k, v in entry[style].items() if k != "draws"}))
    fig_paths(data, DOCS / "human_style_paths.png")
    fig_spread(pairs, DOCS / "human_style_spread.png")
    fig_modes(tables, DOCS / "human_style_modes.png")
    (DOCS / "human_style_stats.json").write_text(json.dumps(stats, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
