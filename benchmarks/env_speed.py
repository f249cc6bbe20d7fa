"""Environment steps per second at a few camera settings (issue targets on a 2-core CPU:
>= 100 at top 480x640, >= 300 at top 96x128, >= 800 without images).

    python benchmarks/env_speed.py [--steps 400] [--task transfer_cube]
"""
from __future__ import annotations

import argparse
import time

import act_bench  # noqa: F401  (sets MUJOCO_GL)
from act_bench.envs import make_env

SETTINGS = [("top 480x640", ("top",), (480, 640)), ("top 96x128", ("top",), (96, 128)), ("no images", (), (96, 128))]


def steps_per_second(task: str, cameras, size, steps: int) -> float:
    env = make_env(task, cameras=cameras, image_size=size)
    obs, _ = env.reset(seed=0)
    hold = obs["qpos"]
    env.step(hold)  # warm-up (first frame uploads textures)
    start = time.perf_counter()
    for _ in range(steps):
        env.step(hold)
    return steps / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="transfer_cube")
    p.add_argument("--steps", type=int, default=400)
    args = p.parse_args()
    print(f"{'setting':<14} {'steps/s':>9}   ({args.task}, {args.steps} steps, one process)")
    for name, cameras, size in SETTINGS:
        print(f"{name:<14} {steps_per_second(args.task, cameras, size, args.steps):>9.0f}")


if __name__ == "__main__":
    main()
