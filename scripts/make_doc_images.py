"""Regenerate the README pictures in docs/: each task's top camera at reset and mid-task.

    python scripts/make_doc_images.py
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

import act_bench  # noqa: F401
from act_bench.envs import make_env
from act_bench.tasks import get_task

DOCS = Path(__file__).resolve().parents[1] / "docs"
MOMENTS = {"transfer_cube": (0, 200, 320), "insertion": (0, 250, 340)}


def task_strip(task: str, seed: int = 0) -> Image.Image:
    env = make_env(task, cameras=("top",), image_size=(240, 320))
    obs, _ = env.reset(seed=seed)
    policy = get_task(task).expert(env)
    policy.reset()
    frames = {0: obs["images"]["top"]}
    for t in range(max(MOMENTS[task])):
        obs, *_ = env.step(policy())
        if t + 1 in MOMENTS[task]:
            frames[t + 1] = obs["images"]["top"]
    gap = np.full((240, 4, 3), 255, np.uint8)
    row = [x for t in MOMENTS[task] for x in (frames[t], gap)][:-1]
    return Image.fromarray(np.concatenate(row, axis=1))


def main() -> None:
    DOCS.mkdir(exist_ok=True)
    for task in MOMENTS:
        path = DOCS / f"{task}_top.png"
        task_strip(task).save(path, optimize=True)
        print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
