"""A folder of act-bench demonstrations as a LeRobotDataset (v3.0): `act-bench export-lerobot DEMOS OUT`.

The whole dataset is written into a temporary folder beside OUT and renamed at the end, so OUT is
either absent or complete. States, velocities and actions are float32 by default (what LeRobot's
policies train on); --dtype float64 keeps our HDF5 values bit for bit. Frames go through H.264
(see video_codec), so they come back within codec error, not exactly.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from act_bench.errors import ActBenchError, DataError
from act_bench.interop import lerobot_format as fmt
from act_bench.interop.video_codec import DEFAULT_CRF, Mp4Writer
from act_bench.storage import folder_lock, interrupts
from act_bench.storage.atomic_io import atomic_dir, write_json
from act_bench.storage.layout import DEMO_SETTINGS
from act_bench.tasks.registry import get_task

DTYPES = ("float32", "float64")


def _pyarrow():
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ActBenchError('LeRobot export/import needs pyarrow: pip install "act-bench[lerobot]"') from None
    return pa, pq


def task_description(task: str) -> str:
    """The task string LeRobot stores: the task TOML's description, else the task's name."""
    try:
        return get_task(task).config().description or task.replace("_", " ")
    except ActBenchError:  # a task of a plugin that is not installed here
        return task.replace("_", " ")


def _demo_settings(demos: Path) -> dict:
    try:
        settings = json.loads((demos / DEMO_SETTINGS).read_text())
    except FileNotFoundError:
        raise DataError(f"{demos} has no {DEMO_SETTINGS}: not an act-bench demo folder") from None
    except ValueError as exc:
        raise DataError(f"{demos / DEMO_SETTINGS}: not JSON: {exc}") from None
    return settings


def export_lerobot(demos: str | Path, out: str | Path, dtype: str = "float32", crf: int = DEFAULT_CRF,
                   task_text: str | None = None, force: bool = False, progress: bool = True) -> dict:
    """Write the demos as a LeRobotDataset at `out`; returns its info.json."""
    from act_bench.data.dataset import episode_paths

    pa, pq = _pyarrow()
    demos, out = Path(demos), Path(out)
    if dtype not in DTYPES:
        raise ActBenchError(f"--dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if out.exists() and not force:
        raise ActBenchError(f"{out} already exists; remove it or pass --force")
    settings = _demo_settings(demos)
    paths = episode_paths(demos)
    cameras = list(settings.get("cameras", []))
    h, w = (int(v) for v in settings["image_size"])
    task = settings["task"]
    task_text = task_text or task_description(task)

    with folder_lock.hold(out, sibling=True), interrupts.stage(f"export-lerobot {out}"), atomic_dir(out) as tmp:
        info = _write_dataset(tmp, _Export(paths, cameras, (h, w), dtype, crf, task_text, progress), pa, pq)
        write_json(tmp / fmt.OURS_PATH, {"task": task, "source": str(demos), "demo_settings": settings,
                                         "seeds": info.pop("_seeds"), "dtype": dtype})
    return info


@dataclass(frozen=True)
class _Export:
    """What export_lerobot writes: which episode files and cameras, at which frame size, the
    parquet float type, the videos' CRF and the task's text."""

    paths: list
    cameras: list
    size: tuple[int, int]
    dtype: str
    crf: int
    task_text: str
    progress: bool


def _write_dataset(root: Path, job: _Export, pa, pq) -> dict:
    from tqdm import tqdm

    paths, cameras, size, dtype, crf, task_text, progress = (job.paths, job.cameras, job.size, job.dtype, job.crf,
                                                             job.task_text, job.progress)
    h, w = size
    writers = {}
    for cam in cameras:
        path = root / fmt.VIDEO_PATH.format(video_key=fmt.camera_key(cam), chunk_index=0, file_index=0)
        path.parent.mkdir(parents=True, exist_ok=True)
        writers[cam] = Mp4Writer(path, h, w, fmt.FPS, crf)
    columns = {k: [] for k in (fmt.STATE, fmt.VELOCITY, fmt.ACTION, fmt.REWARD, "timestamp", "frame_index",
                               "episode_index", "index", "task_index")}
    image_stats = {cam: fmt.ImageStats() for cam in cameras}
    episodes, seeds, start = [], [], 0
    try:
        with tqdm(paths, desc="export-lerobot", unit="ep", disable=not progress, dynamic_ncols=True) as bar:
            for ep_index, path in enumerate(bar):
                interrupts.note(f"at episode {ep_index + 1} of {len(paths)} (nothing is written to the output until all are)")
                qpos, qvel, action, stage, attrs = _read_vectors(path)
                n = len(qpos)
                for cam in cameras:
                    frames = _read_frames(path, cam, n, size)
                    writers[cam].add(frames)
                    image_stats[cam].add(frames)
                columns[fmt.STATE].append(qpos)
                columns[fmt.VELOCITY].append(qvel)
                columns[fmt.ACTION].append(action)
                columns[fmt.REWARD].append(stage.astype(np.float32))
                columns["timestamp"].append((np.arange(n) / fmt.FPS).astype(np.float32))
                columns["frame_index"].append(np.arange(n))
                columns["episode_index"].append(np.full(n, ep_index))
                columns["index"].append(start + np.arange(n))
                columns["task_index"].append(np.zeros(n, np.int64))
                episodes.append(_episode_row(ep_index, n, start, cameras, task_text, qpos, action))
                seeds.append(attrs.get("seed"))
                start += n
    finally:
        for writer in writers.values():
            writer.close()
    data = {k: np.concatenate(v) for k, v in columns.items()}
    _write_parquet(root / fmt.DATA_PATH.format(chunk_index=0, file_index=0), data, dtype, pa, pq)
    _write_episodes(root / fmt.EPISODES_PATH.format(chunk_index=0, file_index=0), episodes, pa, pq)
    _write_tasks(root / fmt.TASKS_PATH, [task_text])
    stats = {fmt.STATE: fmt.vector_stats(data[fmt.STATE]), fmt.VELOCITY: fmt.vector_stats(data[fmt.VELOCITY]),
             fmt.ACTION: fmt.vector_stats(data[fmt.ACTION]), fmt.REWARD: fmt.vector_stats(data[fmt.REWARD][:, None])}
    for k in ("timestamp", "frame_index", "episode_index", "index", "task_index"):
        stats[k] = fmt.vector_stats(data[k][:, None])
    stats.update({fmt.camera_key(cam): s.stats() for cam, s in image_stats.items()})
    write_json(root / fmt.STATS_PATH, fmt.to_json(stats))
    info = {
        "codebase_version": fmt.CODEBASE_VERSION, "robot_type": fmt.ROBOT_TYPE,
        "total_episodes": len(episodes), "total_frames": start, "total_tasks": 1,
        "chunks_size": 1000, "data_files_size_in_mb": 100, "video_files_size_in_mb": 200,
        "fps": fmt.FPS, "splits": {"train": f"0:{len(episodes)}"},
        "data_path": fmt.DATA_PATH, "video_path": fmt.VIDEO_PATH if cameras else None,
        "features": fmt.features(cameras, size, dtype, fmt.video_info(fmt.FPS, h, w, crf)),
    }
    write_json(root / fmt.INFO_PATH, info)
    return {**info, "_seeds": seeds}


def _read_vectors(path: Path):
    try:
        with h5py.File(path, "r") as f:
            qpos = f["observations/qpos"][()]
            qvel = f["observations/qvel"][()] if "observations/qvel" in f else np.zeros_like(qpos)
            action = f["action"][()]
            stage = f["stage"][()] if "stage" in f else np.zeros(len(qpos), np.int8)
            attrs = {k: (v.item() if hasattr(v, "item") else v) for k, v in f.attrs.items()}
    except (OSError, KeyError) as exc:
        raise DataError(f"{path}: cannot read episode: {' '.join(str(exc).split())}") from None
    if qpos.shape != action.shape or qpos.ndim != 2 or qpos.shape[1] != len(fmt.MOTOR_NAMES):
        raise DataError(f"{path}: expected qpos and action of shape (T, {len(fmt.MOTOR_NAMES)}), got {qpos.shape} and {action.shape}")
    return qpos, qvel, action, stage, attrs


def _read_frames(path: Path, cam: str, n: int, size) -> np.ndarray:
    with h5py.File(path, "r") as f:
        key = f"observations/images/{cam}"
        if key not in f:
            raise DataError(f"{path}: no {key}")
        frames = f[key][()]
    if frames.shape != (n, *size, 3):
        raise DataError(f"{path}: {key}: expected shape {(n, *size, 3)}, got {frames.shape}")
    return frames


def _write_parquet(path: Path, data: dict, dtype: str, pa, pq) -> None:
    float_type = pa.float32() if dtype == "float32" else pa.float64()
    arrays, names = [], []
    for key in (fmt.STATE, fmt.VELOCITY, fmt.ACTION):
        values = pa.array(np.ascontiguousarray(data[key], dtype=dtype).reshape(-1), float_type)
        arrays.append(pa.FixedSizeListArray.from_arrays(values, data[key].shape[1]))
        names.append(key)
    arrays.append(pa.array(data[fmt.REWARD], pa.float32()))
    names.append(fmt.REWARD)
    arrays.append(pa.array(data["timestamp"], pa.float32()))
    names.append("timestamp")
    for key in ("frame_index", "episode_index", "index", "task_index"):
        arrays.append(pa.array(data[key].astype(np.int64), pa.int64()))
        names.append(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_arrays(arrays, names=names), path, compression="snappy")


def _episode_row(ep_index, n, start, cameras, task_text, qpos, action) -> dict:
    row = {"episode_index": ep_index, "tasks": [task_text], "length": n,
           "data/chunk_index": 0, "data/file_index": 0,
           "dataset_from_index": start, "dataset_to_index": start + n}
    for cam in cameras:
        key = fmt.camera_key(cam)
        row.update({f"videos/{key}/chunk_index": 0, f"videos/{key}/file_index": 0,
                    f"videos/{key}/from_timestamp": start / fmt.FPS, f"videos/{key}/to_timestamp": (start + n) / fmt.FPS})
    row.update({"meta/episodes/chunk_index": 0, "meta/episodes/file_index": 0})
    for key, values in ((fmt.STATE, qpos), (fmt.ACTION, action)):
        for stat, value in fmt.vector_stats(values).items():
            row[f"stats/{key}/{stat}"] = np.asarray(value, np.float64).tolist()
    return row


def _write_episodes(path: Path, rows: list[dict], pa, pq) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)


def _write_tasks(path: Path, tasks: list[str]) -> None:
    """LeRobot writes tasks with pandas: the task string is the index, task_index the column."""
    import pandas as pd

    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"task_index": range(len(tasks))}, index=pd.Index(tasks, name="task")).to_parquet(path)


# ---------------------------------------------------------------- CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("demos", help="an act-bench demo folder (episode_*.hdf5, settings.json, manifest.json)")
    parser.add_argument("out", help="the LeRobotDataset folder to write (its root)")
    parser.add_argument("--dtype", choices=DTYPES, default="float32",
                        help="state/action dtype (default float32, as LeRobot trains; float64 is exact)")
    parser.add_argument("--crf", type=int, default=DEFAULT_CRF, help=f"H.264 quality, lower is better (default {DEFAULT_CRF})")
    parser.add_argument("--task-text", default=None, help="the task string (default: the task's description)")
    parser.add_argument("--force", action="store_true", help="replace OUT if it exists")
    parser.add_argument("--no-progress", action="store_true")


def main(args) -> int:
    info = export_lerobot(args.demos, args.out, dtype=args.dtype, crf=args.crf, task_text=args.task_text,
                          force=args.force, progress=not args.no_progress)
    print(f"{info['total_episodes']} episodes, {info['total_frames']} frames -> LeRobotDataset "
          f"{fmt.CODEBASE_VERSION} in {args.out}")
    return 0
