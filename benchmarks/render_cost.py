"""What the -v2 look costs per frame, and which shadow map size is indistinguishable.

    python -m benchmarks.render_cost [--frames 100] [--out results/bench/render_cost.csv]

Renders the transfer_cube_v2 top camera, the cube held 10 cm above the table (so it casts a
shadow apart from itself), at 96x128 (the cpu profile's size) and 480x640 (the paper's), with
shadows off / on at several shadow-map sizes and multisampling off / 4x. For each setting it
prints ms per frame (median of interleaved rounds, so load drifts hit all settings alike) and
how far its frame is from the reference (the release's 4096 map, 4x multisampling): the
largest and the mean absolute difference over pixels and channels, in 8-bit levels, and the
share of pixels off by more than 8 levels (a difference a policy could see). We call a setting
indistinguishable when under 0.1% of its pixels are off by more than 8 levels.
"""
from __future__ import annotations

import argparse
import csv
import os
import statistics
import time
import numpy as np

import act_bench  # noqa: F401  (sets MUJOCO_GL)
import mujoco
from act_bench.storage.atomic_io import atomic_path
from act_bench.envs.aloha import AlohaEnv
from act_bench.sim.render import CameraRenderer

SIZES = [(96, 128), (480, 640)]
# (name, shadow map size (0 = no shadows), multisamples)
SETTINGS = [("no shadows, no msaa", 0, 0), ("no shadows, msaa 4", 0, 4), ("shadow 512, msaa 4", 512, 4),
            ("shadow 1024, msaa 4", 1024, 4),
            ("shadow 2048, msaa 4", 2048, 4), ("shadow 4096, msaa 4", 4096, 4), ("shadow 2048, no msaa", 2048, 0)]
REFERENCE = "shadow 4096, msaa 4"


def _scene_with_cube_raised() -> AlohaEnv:
    env = AlohaEnv("transfer_cube_v2", cameras=())
    env.reset(seed=0)
    adr = env.stage_rule.object_qpos["cube"]
    env.data.qpos[adr:adr + 3] = (0.05, 0.5, 0.12)
    mujoco.mj_forward(env.model, env.data)
    return env


def _renderer(env, size, shadow, samples) -> CameraRenderer:
    env.model.vis.quality.shadowsize = shadow
    env.model.vis.quality.offsamples = samples
    return CameraRenderer(env.model, ("top",), *size)


def measure(frames: int, rounds: int = 5) -> list[dict]:
    env = _scene_with_cube_raised()
    rows = []
    for size in SIZES:
        renderers = {name: _renderer(env, size, shadow, samples) for name, shadow, samples in SETTINGS}
        images = {name: r.render(env.data)["top"].astype(np.int16) for name, r in renderers.items()}
        times = {name: [] for name in renderers}
        for _ in range(rounds):
            for name, r in renderers.items():
                start = time.perf_counter()
                for _ in range(frames // rounds):
                    r.render(env.data)
                times[name].append((time.perf_counter() - start) / (frames // rounds) * 1000)
        for name, shadow, samples in SETTINGS:
            diff = np.abs(images[name] - images[REFERENCE])
            rows.append({"size": f"{size[0]}x{size[1]}", "setting": name, "shadowsize": shadow, "offsamples": samples,
                         "ms_per_frame": round(statistics.median(times[name]), 2),
                         "max_abs_diff": int(diff.max()), "mean_abs_diff": round(float(diff.mean()), 3),
                         "share_off_by_8": round(float((diff.max(axis=-1) > 8).mean()), 5)})
        for r in renderers.values():
            r.close()
    env.close()
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=100)
    p.add_argument("--out", default="results/bench/render_cost.csv")
    args = p.parse_args()
    rows = measure(args.frames)
    load = os.getloadavg()[0]
    print(f"{'size':<8} {'setting':<22} {'ms/frame':>9} {'max diff':>9} {'mean diff':>10} {'px > 8':>8}   (load {load:.1f})")
    for r in rows:
        print(f"{r['size']:<8} {r['setting']:<22} {r['ms_per_frame']:>9.2f} {r['max_abs_diff']:>9d} "
              f"{r['mean_abs_diff']:>10.3f} {r['share_off_by_8']:>8.2%}")
    with atomic_path(args.out) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[*rows[0], "load_avg_1min"])
        writer.writeheader()
        writer.writerows({**r, "load_avg_1min": round(load, 1)} for r in rows)


if __name__ == "__main__":
    main()
