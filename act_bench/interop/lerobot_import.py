"""A LeRobotDataset (v3.0, local folder) as an act-bench demo folder: `act-bench import-lerobot ROOT OUT`.

Writes episode_{i}.hdf5 in our layout plus settings.json and manifest.json, so `act-bench train
--data OUT` trains on it. observation.state -> qpos, action -> action (both must be 14 values in
ACT's order), observation.velocity -> qvel (zeros when absent), next.reward -> stage (zeros when
absent), every video feature observation.images.{cam} -> images/{cam}. Datasets that store frames
as PNG images instead of videos are refused with a one-line error. Like export, everything is
written into a temporary folder and renamed at the end.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from act_bench.errors import ActBenchError, DataError
from act_bench.interop import lerobot_format as fmt
from act_bench.interop.lerobot_export import _pyarrow
from act_bench.interop.video_codec import read_frames
from act_bench.storage.atomic_io import atomic_dir, write_json
from act_bench.storage.layout import DEMO_MANIFEST, DEMO_SETTINGS

STATE_DIM = len(fmt.MOTOR_NAMES)


def _load_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"{path} is missing: not a LeRobotDataset root") from None
    except ValueError as exc:
        raise DataError(f"{path}: not JSON: {exc}") from None


def read_info(root: Path) -> dict:
    info = _load_json(root / fmt.INFO_PATH)
    version = str(info.get("codebase_version", "?"))
    if not version.startswith("v3."):
        raise DataError(f"{root}: LeRobotDataset {version}; only v3.x is supported (convert it with LeRobot first)")
    feats = info.get("features", {})
    for key in (fmt.STATE, fmt.ACTION):
        if key not in feats:
            raise DataError(f"{root}: the dataset has no {key!r} feature")
        if list(feats[key].get("shape", [])) != [STATE_DIM]:
            raise DataError(f"{root}: {key} has shape {feats[key].get('shape')}, act-bench needs [{STATE_DIM}]")
    images = [k for k, f in feats.items() if k.startswith(fmt.IMAGE_PREFIX) and f.get("dtype") == "image"]
    if images:
        raise DataError(f"{root}: {images[0]} is stored as images, not video; only video features are supported")
    return info


def _read_table(root: Path, pattern: str, pq) -> "object":
    """All parquet files under a folder (LeRobot splits big tables into chunk-*/file-*), in order."""
    files = sorted((root / pattern).glob("chunk-*/file-*.parquet"))
    if not files:
        raise DataError(f"{root / pattern} holds no chunk-*/file-*.parquet files")
    import pyarrow as pa

    return pa.concat_tables([pq.read_table(f) for f in files], promote_options="default").to_pandas()


def _column(frame, key: str, rows, dim: int | None) -> np.ndarray:
    values = frame[key].to_numpy()[rows]
    if dim is None:
        return np.asarray(values, np.float64)
    return np.stack([np.asarray(v, np.float64) for v in values]).reshape(len(rows), dim)


def _cameras(root: Path, info: dict) -> tuple[list[str], list[int]]:
    """The dataset's video cameras and their one (H, W) frame size ([0, 0] without cameras)."""
    feats = info["features"]
    cameras = [k[len(fmt.IMAGE_PREFIX):] for k, f in feats.items()
               if k.startswith(fmt.IMAGE_PREFIX) and f.get("dtype") == "video"]
    sizes = {tuple(feats[fmt.camera_key(c)]["shape"][:2]) for c in cameras}
    if len(sizes) > 1:
        raise DataError(f"{root}: cameras have different frame sizes {sorted(sizes)}; act-bench needs one")
    return cameras, (list(sizes.pop()) if sizes else [0, 0])


def _frames(root: Path, info: dict, ep: dict, cam: str, n: int) -> np.ndarray:
    """An episode's n frames of one camera, decoded from the video file and time they live in."""
    key, fps = fmt.camera_key(cam), int(info.get("fps", fmt.FPS))
    video = root / info["video_path"].format(video_key=key, chunk_index=int(ep[f"videos/{key}/chunk_index"]),
                                             file_index=int(ep[f"videos/{key}/file_index"]))
    start = int(round(float(ep[f"videos/{key}/from_timestamp"]) * fps))
    return read_frames(video, start, n, fps)


def import_lerobot(root: str | Path, out: str | Path, task: str | None = None, force: bool = False,
                   progress: bool = True) -> dict:
    """Write the LeRobotDataset at `root` as a demo folder at `out`; returns its manifest."""
    from tqdm import tqdm

    from act_bench.data.episode_io import Episode, write_episode

    _, pq = _pyarrow()
    root, out = Path(root), Path(out)
    if out.exists() and not force:
        raise ActBenchError(f"{out} already exists; remove it or pass --force")
    info = read_info(root)
    ours = _load_json(root / fmt.OURS_PATH) if (root / fmt.OURS_PATH).exists() else {}
    task = task or ours.get("task")
    if task is None:
        raise ActBenchError(f"{root} was not written by act-bench, so its task is unknown; pass --task")
    cameras, image_size = _cameras(root, info)
    data = _read_table(root, "data", pq).sort_values("index").reset_index(drop=True)
    episodes = _read_table(root, "meta/episodes", pq).sort_values("episode_index").reset_index(drop=True)
    index = data["index"].to_numpy()

    with atomic_dir(out) as tmp:
        seeds = list(ours.get("seeds") or [])
        files, hashes, lengths = [], [], []
        # `with`: an error closes the bar before the CLI prints its one line
        with tqdm(episodes.to_dict("records"), desc="import-lerobot", unit="ep", disable=not progress,
                  dynamic_ncols=True) as bar:
            for i, ep in enumerate(bar):
                lo, hi = int(ep["dataset_from_index"]), int(ep["dataset_to_index"])
                rows = np.flatnonzero((index >= lo) & (index < hi))
                if len(rows) != hi - lo:
                    raise DataError(f"{root}: episode {ep['episode_index']} should have rows {lo}..{hi - 1}, "
                                    f"found {len(rows)}")
                images = {cam: _frames(root, info, ep, cam, hi - lo) for cam in cameras}
                qpos = _column(data, fmt.STATE, rows, STATE_DIM)
                qvel = _column(data, fmt.VELOCITY, rows, STATE_DIM) if fmt.VELOCITY in data else np.zeros_like(qpos)
                stage = (_column(data, fmt.REWARD, rows, None).reshape(-1) if fmt.REWARD in data
                         else np.zeros(len(rows)))
                seed = seeds[i] if i < len(seeds) and seeds[i] is not None else -1
                episode = Episode(qpos=qpos, qvel=qvel, action=_column(data, fmt.ACTION, rows, STATE_DIM),
                                  stage=stage.astype(np.int8), images=images,
                                  attrs={"task": task, "seed": int(seed), "index": i, "cameras": cameras,
                                         "image_size": image_size, "source": f"lerobot:{root}",
                                         "lerobot_episode_index": int(ep["episode_index"])})
                name = f"episode_{i}.hdf5"
                hashes.append(write_episode(tmp / name, episode))
                files.append(name)
                lengths.append(hi - lo)
        settings = {"format_version": 1, "task": task, "seed": ours.get("demo_settings", {}).get("seed", -1),
                    "cameras": cameras, "image_size": image_size, "noise": 0.0,
                    "episode_len": max(lengths) if lengths else 0, "source": f"lerobot:{root}"}
        write_json(tmp / DEMO_SETTINGS, settings)
        manifest = {**settings, "episodes": len(files), "files": files, "seeds": seeds[:len(files)],
                    "attempts": len(files), "scripted_success_rate": None, "content_hashes": hashes}
        write_json(tmp / DEMO_MANIFEST, manifest)
    return manifest


# ---------------------------------------------------------------- CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("root", help="a LeRobotDataset folder (with meta/info.json)")
    parser.add_argument("out", help="the act-bench demo folder to write")
    parser.add_argument("--task", default=None,
                        help="the act-bench task the data is of (default: the one export-lerobot recorded)")
    parser.add_argument("--force", action="store_true", help="replace OUT if it exists")
    parser.add_argument("--no-progress", action="store_true")


def main(args) -> int:
    manifest = import_lerobot(args.root, args.out, task=args.task, force=args.force, progress=not args.no_progress)
    print(f"{manifest['episodes']} episodes of {manifest['task']} -> {args.out} "
          f"(train with: act-bench train --task {manifest['task']} --policy act --data {args.out})")
    return 0
