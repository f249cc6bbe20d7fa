"""`act-bench replay EPISODE.hdf5 --out ep.mp4`: a video of an episode's recorded cameras,
side by side, with the stage reached at each step drawn on top."""
from __future__ import annotations

import math
from pathlib import Path

import h5py
import numpy as np

from act_bench.data.dataset import inspect_episode
from act_bench.data.hdf5_read import read_dataset
from act_bench.data.inspect import recorded_cameras
from act_bench.data.verify import verify_episode
from act_bench.errors import ActBenchError
from act_bench.sim import VIDEO_SIZE
from act_bench.sim.video import EpisodeVideo
from act_bench.tasks.registry import get_task, task_names


def episode_frames(path: str | Path, cameras=None) -> np.ndarray:
    """(T, H, W_total, 3) uint8: the chosen cameras side by side."""
    cameras = recorded_cameras(Path(path)) if cameras is None else list(cameras)
    if not cameras:
        raise ActBenchError(f"{path}: the episode has no recorded camera images to replay")
    inspect_episode(path, cameras)
    verify_episode(path)  # an edited or corrupt episode is refused, as training refuses it
    with h5py.File(path, "r") as f:  # a corrupt chunk is a one-line DataError, not a traceback
        frames = [read_dataset(f, Path(path), f"observations/images/{c}") for c in cameras]
    height = min(fr.shape[1] for fr in frames)
    return np.concatenate([fr[:, :height] for fr in frames], axis=2)


def video_size(frame_size: tuple[int, int]) -> tuple[int, int]:
    """The frames scaled up by a whole factor to at least VIDEO_SIZE (240x320): the banner's text
    and stage boxes need that room, and a 48x64 frame would be cut off and covered by them."""
    (h, w), (min_h, min_w) = frame_size, VIDEO_SIZE
    factor = max(1, math.ceil(min_h / h), math.ceil(min_w / w))
    return h * factor, w * factor


def replay(path: str | Path, out: str | Path, cameras=None, fps: int = 50) -> Path:
    frames = episode_frames(path, cameras)
    with h5py.File(path, "r") as f:
        stages = read_dataset(f, Path(path), "stage") if "stage" in f else np.zeros(len(frames), dtype=int)
        task = f.attrs.get("task", "")

    names = list(get_task(task).config().stage_names) if task in task_names() else [f"stage {i}" for i in range(1, 5)]
    best = np.maximum.accumulate(stages)
    with EpisodeVideo(out, names, fps=fps, frame_stride=1, size=video_size(frames.shape[1:3])) as video:
        for t, frame in enumerate(frames):
            video.add(frame, t, int(stages[t]), int(best[t]))
    return Path(out)


def add_arguments(p) -> None:
    p.add_argument("episode", help="an episode_N.hdf5 file")
    p.add_argument("--out", default=None, help="output .mp4 (default: next to the episode)")
    p.add_argument("--cameras", default=None, help="comma-separated cameras (default: all recorded)")
    p.add_argument("--fps", type=int, default=50)


def main(args) -> int:
    path = Path(args.episode)
    if path.is_dir():
        episodes = sorted(path.glob("episode_*.hdf5"))
        example = episodes[0] if episodes else path / "episode_0.hdf5"
        raise ActBenchError(f"{path} is a folder; replay takes one episode file of it, e.g. {example}")
    if not path.is_file():
        raise ActBenchError(f"{path}: no such file")
    cameras = args.cameras.split(",") if args.cameras else None
    out = replay(path, Path(args.out) if args.out else path.with_suffix(".mp4"), cameras, fps=args.fps)
    print(f"wrote {out}")
    return 0
