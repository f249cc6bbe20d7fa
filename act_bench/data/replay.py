"""`act-bench replay EPISODE.hdf5 --out ep.mp4`: a video of an episode's recorded cameras."""
from __future__ import annotations

import os
from pathlib import Path

import h5py
import imageio.v2 as imageio
import numpy as np

from act_bench.data.dataset import inspect_episode
from act_bench.data.inspect import recorded_cameras
from act_bench.errors import ActBenchError


def episode_frames(path: str | Path, cameras=None) -> np.ndarray:
    """(T, H, W_total, 3) uint8: the chosen cameras side by side."""
    cameras = recorded_cameras(Path(path)) if cameras is None else list(cameras)
    if not cameras:
        raise ActBenchError(f"{path}: the episode has no recorded camera images to replay")
    inspect_episode(path, cameras)
    with h5py.File(path, "r") as f:
        frames = [f[f"observations/images/{c}"][()] for c in cameras]
    height = min(fr.shape[1] for fr in frames)
    return np.concatenate([fr[:, :height] for fr in frames], axis=2)


def write_video(frames: np.ndarray, out: str | Path, fps: int = 50) -> None:
    """mp4 (H.264) written to a temporary name, then renamed."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.stem + ".tmp" + out.suffix)
    # macro_block_size=1 keeps odd sizes; yuv420p plays in every browser.
    with imageio.get_writer(tmp, fps=fps, codec="libx264", macro_block_size=1,
                            ffmpeg_params=["-pix_fmt", "yuv420p", "-crf", "28"]) as writer:
        for frame in frames:
            writer.append_data(frame)
    os.replace(tmp, out)


def add_arguments(p) -> None:
    p.add_argument("episode", help="an episode_N.hdf5 file")
    p.add_argument("--out", default=None, help="output .mp4 (default: next to the episode)")
    p.add_argument("--cameras", default=None, help="comma-separated cameras (default: all recorded)")
    p.add_argument("--fps", type=int, default=50)


def main(args) -> int:
    path = Path(args.episode)
    if not path.is_file():
        raise ActBenchError(f"{path}: no such file")
    cameras = args.cameras.split(",") if args.cameras else None
    out = Path(args.out) if args.out else path.with_suffix(".mp4")
    write_video(episode_frames(path, cameras), out, fps=args.fps)
    print(f"wrote {out}")
    return 0
