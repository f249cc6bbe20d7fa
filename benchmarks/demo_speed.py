"""Wall time to record scripted demonstrations (issue target on a 2-core CPU: 50 episodes,
top camera at 96x128, <= 60 s).

    python benchmarks/demo_speed.py [--episodes 50] [--workers 2] [--task transfer_cube]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import act_bench  # noqa: F401
from act_bench.demos.generate import DemoSettings, generate_demos


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="transfer_cube")
    p.add_argument("--episodes", type=int, default=50)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--image-size", default="96x128")
    args = p.parse_args()
    size = tuple(int(v) for v in args.image_size.split("x"))
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        m = generate_demos(args.task, args.episodes, out, DemoSettings(cameras=["top"], image_size=size),
                           workers=args.workers, progress=False)
        wall = time.perf_counter() - start
    print(f"{args.task}: {args.episodes} episodes, top {size[0]}x{size[1]}, {args.workers} workers: "
          f"{wall:.1f} s ({wall / args.episodes:.2f} s/episode), scripted success {m['scripted_success_rate']:.0%}")


if __name__ == "__main__":
    main()
