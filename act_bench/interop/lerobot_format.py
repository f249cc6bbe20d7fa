"""What a LeRobotDataset (codebase v3.0) looks like on disk, as far as act-bench writes and reads it.

    meta/info.json        codebase_version, fps, features (dtype, shape, names), counts, path templates
    meta/stats.json       per feature: min, max, mean, std, count, q01..q99 (images per channel, in [0, 1])
    meta/tasks.parquet    task string (index) -> task_index
    meta/episodes/chunk-000/file-000.parquet   one row per episode: length, tasks, where its rows and
                          video segments are (data/*, dataset_from/to_index, videos/{key}/*)
    data/chunk-000/file-000.parquet            one row per frame
    videos/observation.images.{cam}/chunk-000/file-000.mp4   one stream per camera, episodes back to back
    meta/act_bench.json   ours (LeRobot ignores it): act-bench task name, seeds, demo settings

Feature names follow LeRobot's ALOHA datasets: observation.state and action hold 14 values named
after the motors in ACT's order (left arm 6 joints + gripper, then right), observation.velocity
our qvel, next.reward our stage after each action.
"""
from __future__ import annotations

import numpy as np

CODEBASE_VERSION = "v3.0"
FPS = 50
ROBOT_TYPE = "aloha"
CHUNK_FILE = "chunk-{chunk_index:03d}/file-{file_index:03d}"
DATA_PATH = "data/" + CHUNK_FILE + ".parquet"
VIDEO_PATH = "videos/{video_key}/" + CHUNK_FILE + ".mp4"
EPISODES_PATH = "meta/episodes/" + CHUNK_FILE + ".parquet"
INFO_PATH = "meta/info.json"
STATS_PATH = "meta/stats.json"
TASKS_PATH = "meta/tasks.parquet"
OURS_PATH = "meta/act_bench.json"

STATE, VELOCITY, ACTION, REWARD = "observation.state", "observation.velocity", "action", "next.reward"
IMAGE_PREFIX = "observation.images."
MOTOR_NAMES = [f"{side}_{joint}" for side in ("left", "right")
               for joint in ("waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate", "gripper")]
QUANTILES = {"q01": 0.01, "q10": 0.10, "q50": 0.50, "q90": 0.90, "q99": 0.99}

# LeRobot's bookkeeping columns, present in every dataset
INDEX_FEATURES = {
    "timestamp": {"dtype": "float32", "shape": [1], "names": None},
    "frame_index": {"dtype": "int64", "shape": [1], "names": None},
    "episode_index": {"dtype": "int64", "shape": [1], "names": None},
    "index": {"dtype": "int64", "shape": [1], "names": None},
    "task_index": {"dtype": "int64", "shape": [1], "names": None},
}


def camera_key(camera: str) -> str:
    return IMAGE_PREFIX + camera


def features(cameras, image_size, dtype: str, video_info: dict) -> dict:
    """info.json's features for our episodes."""
    h, w = (int(v) for v in image_size)
    motors = {"motors": list(MOTOR_NAMES)}
    feats = {
        STATE: {"dtype": dtype, "shape": [len(MOTOR_NAMES)], "names": motors},
        VELOCITY: {"dtype": dtype, "shape": [len(MOTOR_NAMES)], "names": motors},
        ACTION: {"dtype": dtype, "shape": [len(MOTOR_NAMES)], "names": motors},
        REWARD: {"dtype": "float32", "shape": [1], "names": None},
    }
    for cam in cameras:
        feats[camera_key(cam)] = {"dtype": "video", "shape": [h, w, 3], "names": ["height", "width", "channels"],
                                  "info": dict(video_info)}
    return {**feats, **INDEX_FEATURES}


def video_info(fps: int, height: int, width: int, crf: int) -> dict:
    """The video.* entries LeRobot records per camera (it probes them from the file; we know them)."""
    return {"video.height": height, "video.width": width, "video.codec": "h264", "video.pix_fmt": "yuv420p",
            "video.fps": fps, "video.channels": 3, "video.g": 2, "video.crf": crf, "has_audio": False,
            "is_depth_map": False}


def vector_stats(values: np.ndarray) -> dict:
    """LeRobot's stats of a (N, D) array, per column."""
    v = np.asarray(values, dtype=np.float64)
    out = {"min": v.min(0), "max": v.max(0), "mean": v.mean(0), "std": v.std(0), "count": np.array([len(v)])}
    for name, q in QUANTILES.items():
        out[name] = np.quantile(v, q, axis=0)
    return out


class ImageStats:
    """Exact per-channel stats of uint8 frames from a 256-bin histogram per channel, so any number
    of frames costs no memory; reported in [0, 1] with shape (3, 1, 1), as LeRobot keeps them."""

    def __init__(self) -> None:
        self.hist = np.zeros((3, 256), np.int64)
        self.frames = 0

    def add(self, frames: np.ndarray) -> None:
        flat = np.asarray(frames, np.uint8).reshape(-1, 3)
        for c in range(3):
            self.hist[c] += np.bincount(flat[:, c], minlength=256)
        self.frames += len(frames)

    def stats(self) -> dict:
        levels = np.arange(256) / 255.0
        total = self.hist.sum(1)
        mean = (self.hist * levels).sum(1) / total
        var = (self.hist * (levels[None] - mean[:, None]) ** 2).sum(1) / total
        cum = np.cumsum(self.hist, 1) / total[:, None]
        nonzero = self.hist > 0
        out = {"min": levels[nonzero.argmax(1)], "max": levels[255 - nonzero[:, ::-1].argmax(1)],
               "mean": mean, "std": np.sqrt(var)}
        for name, q in QUANTILES.items():
            out[name] = levels[(cum < q).sum(1)]
        out = {k: v.reshape(3, 1, 1) for k, v in out.items()}
        out["count"] = np.array([self.frames])
        return out


def to_json(stats: dict) -> dict:
    return {key: {k: np.asarray(v).tolist() for k, v in s.items()} for key, s in stats.items()}
