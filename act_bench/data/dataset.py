"""Reading recorded episodes back for training.

Every episode is validated (keys, shapes, dtypes, finite values) before anything is loaded, so a
broken file fails fast with a one-line DataError naming the file and the key. Frames stay uint8
in memory (resized once, on load, with antialiasing) and a batch is gathered with numpy fancy
indexing: no per-sample Python, no worker processes.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from act_bench.data.folder_check import episode_paths  # noqa: F401  (re-exported: readers import it from here)
from act_bench.data.hdf5_read import get_dataset, open_episode, read_dataset
from act_bench.data.normalization import NormStats
from act_bench.data.verify import check_hash, hash_open_file, stored_hash
from act_bench.errors import DataError
from act_bench.runtime.machine import memory_shortfall
from act_bench.sim import STATE_DIM

_READ_BLOCK = 50  # frames decoded and resized at a time (bounds the float32 scratch memory)


@dataclass
class EpisodeInfo:
    """What validation learned about one file without reading its frames."""

    path: Path
    length: int
    image_shapes: dict[str, tuple[int, int]]  # camera -> stored (H, W)
    attrs: dict[str, Any] = field(default_factory=dict)


def inspect_episode(path: str | os.PathLike, cameras: Sequence[str], state_dim: int = STATE_DIM,
                    action_dim: int = STATE_DIM) -> EpisodeInfo:
    """Check keys, shapes and dtypes of one episode; raise DataError naming the file and key."""
    path = Path(path)
    with open_episode(path) as f:
        length = None
        for key, dim in (("observations/qpos", state_dim), ("action", action_dim)):
            ds = get_dataset(f, path, key)
            if ds.ndim != 2 or ds.shape[1] != dim or ds.shape[0] < 1:
                raise DataError(f"{path}: {key}: expected shape (T, {dim}), got {ds.shape}")
            if ds.dtype.kind != "f":
                raise DataError(f"{path}: {key}: expected a float dtype, got {ds.dtype}")
            if length is not None and ds.shape[0] != length:
                raise DataError(f"{path}: {key}: has {ds.shape[0]} steps but observations/qpos has {length}")
            length = ds.shape[0]
        shapes = {}
        for cam in cameras:
            key = f"observations/images/{cam}"
            ds = get_dataset(f, path, key)
            if ds.ndim != 4 or ds.shape[3] != 3:
                raise DataError(f"{path}: {key}: expected shape (T, H, W, 3), got {ds.shape}")
            if ds.dtype != np.uint8:
                raise DataError(f"{path}: {key}: expected dtype uint8, got {ds.dtype}")
            if ds.shape[0] != length:
                raise DataError(f"{path}: {key}: has {ds.shape[0]} frames but observations/qpos has {length}")
            shapes[cam] = (int(ds.shape[1]), int(ds.shape[2]))
        attrs = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in f.attrs.items()}
    return EpisodeInfo(path, int(length), shapes, attrs)


def read_vectors(info: EpisodeInfo) -> tuple[np.ndarray, np.ndarray]:
    """(qpos, action) of one validated episode as float32, checked finite."""
    with open_episode(info.path) as f:
        out = []
        for key in ("observations/qpos", "action"):
            arr = read_dataset(f, info.path, key).astype(np.float32)
            if not np.all(np.isfinite(arr)):
                raise DataError(f"{info.path}: {key}: contains NaN or inf")
            out.append(arr)
    return out[0], out[1]


def read_frames_into(info: EpisodeInfo, cameras: Sequence[str], out: np.ndarray, expected: str | None = None) -> str:
    """Decode every frame of `cameras` into out (T, n_cam, h, w, 3) uint8, resizing as needed,
    while recomputing the episode's content hash from every dataset (all chunks read); a file
    that differs from its own hash or from `expected` (the manifest's) is a DataError."""
    h, w = out.shape[2:4]
    index = {cam: c for c, cam in enumerate(cameras)}

    def fill(cam: str, start: int, block: np.ndarray) -> None:
        if cam in index:
            out[start:start + len(block), index[cam]] = resize_images(block, (h, w))

    with open_episode(info.path) as f:
        computed = hash_open_file(f, info.path, fill)
        check_hash(info.path, stored_hash(f), computed, expected)
    return computed


def resize_images(frames, size: tuple[int, int]):
    """uint8 (..., H, W, 3) -> uint8 (..., h, w, 3): bilinear with antialiasing (area-like when
    shrinking). Takes and returns a numpy array or a torch tensor; the policy uses the same
    function at inference so training and evaluation frames match."""
    h, w = int(size[0]), int(size[1])
    if tuple(frames.shape[-3:-1]) == (h, w):
        return frames
    is_numpy = isinstance(frames, np.ndarray)
    t = torch.from_numpy(np.ascontiguousarray(frames)) if is_numpy else frames
    lead = t.shape[:-3]
    x = t.reshape(-1, *t.shape[-3:]).permute(0, 3, 1, 2).float()
    y = F.interpolate(x, size=(h, w), mode="bilinear", antialias=True, align_corners=False)
    y = y.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).reshape(*lead, h, w, 3).contiguous()
    return y.numpy() if is_numpy else y


class ChunkDataset:
    """Frames of several episodes, concatenated; samples (observation, next k actions) pairs,
    or with obs_steps n > 1 (a policy that reads past observations) (last n observations, the
    n - 1 actions taken before the current step and the next k).

    Arrays: qpos (N, S) float32, actions (N, A) float32, images (N, n_cam, H, W, 3) uint8,
    episode_end (N,) int64 = exclusive end index of each frame's episode (episodes are contiguous).
    """

    def __init__(self, qpos: np.ndarray, actions: np.ndarray, images: np.ndarray,
                 episode_end: np.ndarray, chunk_size: int, camera_names: Sequence[str] = ("top",),
                 obs_steps: int = 1):
        n = len(qpos)
        if not (len(actions) == len(images) == len(episode_end) == n):
            raise ValueError("qpos, actions, images and episode_end must have the same length")
        if obs_steps < 1:
            raise ValueError(f"obs_steps must be >= 1, got {obs_steps}")
        self.qpos, self.actions, self.images = qpos, actions, images
        self.episode_end = episode_end.astype(np.int64)
        self.chunk_size = int(chunk_size)
        self.camera_names = list(camera_names)
        self._arange = np.arange(self.chunk_size, dtype=np.int64)
        self.obs_steps = int(obs_steps)
        ends = np.unique(self.episode_end)
        starts = np.concatenate([[0], ends[:-1]]).astype(np.int64)
        self.episode_start = starts[np.searchsorted(ends, self.episode_end)] if n else self.episode_end.copy()

    @classmethod
    def from_episodes(cls, qpos: Sequence[np.ndarray], actions: Sequence[np.ndarray],
                      images: Sequence[np.ndarray], chunk_size: int,
                      camera_names: Sequence[str] = ("top",), obs_steps: int = 1) -> "ChunkDataset":
        """Build from per-episode arrays (images (T, n_cam, H, W, 3)); copies them."""
        lengths = [len(q) for q in qpos]
        ends = np.repeat(np.cumsum(lengths), lengths)
        return cls(np.concatenate(qpos).astype(np.float32), np.concatenate(actions).astype(np.float32),
                   np.concatenate(images), ends, chunk_size, camera_names, obs_steps)

    def __len__(self) -> int:
        return len(self.qpos)

    @property
    def n_episodes(self) -> int:
        return len(np.unique(self.episode_end))

    def sample_indices(self, rng: np.random.Generator, batch_size: int) -> np.ndarray:
        """Uniform over frames (= uniform episode then timestep when episodes are equally long)."""
        return rng.integers(0, len(self), size=batch_size, dtype=np.int64)

    def get_batch(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        """qpos (B, S), images (B, n_cam, H, W, 3) uint8, actions (B, k, A), is_pad (B, k) bool.
        Steps past the episode's end repeat its last action and are flagged in is_pad.

        With obs_steps n > 1: qpos (B, n, S) and images (B, n, n_cam, H, W, 3), oldest first,
        and actions (B, n - 1 + k, A), is_pad (B, n - 1 + k) from the oldest observation's step.
        Steps before the episode's start repeat its first frame (as an evaluation starts: with
        the first observation repeated) and its first action, which is_pad flags."""
        end = self.episode_end[idx][:, None]
        if self.obs_steps > 1:
            return self._history_batch(idx, end)
        steps = idx[:, None] + self._arange[None, :]
        is_pad = steps >= end
        steps = np.minimum(steps, end - 1)
        return {"qpos": self.qpos[idx], "images": self.images[idx], "actions": self.actions[steps],
                "is_pad": is_pad}

    def _history_batch(self, idx: np.ndarray, end: np.ndarray) -> dict[str, np.ndarray]:
        start = self.episode_start[idx][:, None]
        past = self.obs_steps - 1
        observed = np.maximum(idx[:, None] + np.arange(-past, 1, dtype=np.int64)[None, :], start)
        steps = idx[:, None] + np.arange(-past, self.chunk_size, dtype=np.int64)[None, :]
        is_pad = (steps < start) | (steps >= end)
        steps = np.clip(steps, start, end - 1)
        return {"qpos": self.qpos[observed], "images": self.images[observed], "actions": self.actions[steps],
                "is_pad": is_pad}

    def sample(self, rng: np.random.Generator, batch_size: int) -> dict[str, np.ndarray]:
        return self.get_batch(self.sample_indices(rng, batch_size))


def batch_to_torch(batch: dict[str, np.ndarray], device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    non_blocking = torch.device(device).type == "cuda"
    return {k: torch.from_numpy(v).to(device, non_blocking=non_blocking) for k, v in batch.items()}


@dataclass
class TrainingData:
    train: ChunkDataset
    val: ChunkDataset | None
    stats: NormStats  # from the training episodes only
    info: dict[str, Any]  # JSON-able summary: files, split, stored and used image sizes


def split_episodes(n: int, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Random split by episode; at least one validation episode when n >= 2 and val_fraction > 0."""
    if n < 2 or val_fraction <= 0:
        return list(range(n)), []
    n_val = min(n - 1, max(1, round(val_fraction * n)))
    order = np.random.default_rng(np.random.SeedSequence([int(seed), 0x5EED])).permutation(n)
    return sorted(order[n_val:].tolist()), sorted(order[:n_val].tolist())


@dataclass(frozen=True)
class DataSpec:
    """What to load from a demo folder: cameras and the (H, W) frames are resized to, the chunk
    length, the validation split and its seed, and what the files must hold."""

    cameras: Sequence[str]
    image_size: tuple[int, int]
    chunk_size: int
    val_fraction: float = 0.1
    seed: int = 0
    max_episodes: int = 0  # the first N episodes; 0 = all
    task: str | None = None  # episodes recorded for another task are refused
    state_dim: int = STATE_DIM
    action_dim: int = STATE_DIM
    obs_steps: int = 1  # observations per sample (PolicyConfig.observation_steps)


def load_training_data(data_dir: str | os.PathLike, spec: DataSpec, progress: bool = False,
                       expected_hashes: Sequence[str] | None = None) -> TrainingData:
    """Validate every episode of data_dir, then load it into memory split into train/validation.
    Every episode's content hash is recomputed as it is read and checked against the file's own
    and `expected_hashes` (the run's demo record, in episode order)."""
    cameras, image_size, chunk_size, max_episodes, task = (list(spec.cameras), spec.image_size, spec.chunk_size,
                                                           spec.max_episodes, spec.task)
    paths = episode_paths(data_dir, max_episodes)
    if max_episodes > 0 and len(paths) < max_episodes:
        raise DataError(f"{data_dir} holds {len(paths)} episodes, fewer than the {max_episodes} asked for")
    infos = [inspect_episode(p, cameras, spec.state_dim, spec.action_dim) for p in paths]
    expected = dict(zip(paths, expected_hashes)) if expected_hashes is not None else {}
    if task is not None:
        for info in infos:
            file_task = info.attrs.get("task")
            if file_task is not None and file_task != task:
                raise DataError(f"{info.path}: recorded for task {file_task!r}, not {task!r}")
    h, w = int(image_size[0]), int(image_size[1])
    short = memory_shortfall(sum(i.length for i in infos) * len(cameras) * h * w * 3)
    if short:
        raise DataError(f"{data_dir}: the frames {short}; lower data.image_size or data.max_episodes")
    train_ids, val_ids = split_episodes(len(infos), spec.val_fraction, spec.seed)
    bar = _progress(len(infos), f"loading {Path(data_dir).name}", progress)
    try:
        train = _load_split([infos[i] for i in train_ids], cameras, (h, w), chunk_size, bar, expected, spec.obs_steps)
        val = (_load_split([infos[i] for i in val_ids], cameras, (h, w), chunk_size, bar, expected, spec.obs_steps)
               if val_ids else None)
    finally:
        if bar is not None:
            bar.close()
    ends = np.unique(train.episode_end)
    starts = np.concatenate([[0], ends[:-1]])
    stats = NormStats.from_arrays([train.qpos[s:e] for s, e in zip(starts, ends)],
                                  [train.actions[s:e] for s, e in zip(starts, ends)])
    info = {
        "data_dir": str(Path(data_dir).resolve()),
        "episodes": len(infos),
        "frames": int(sum(i.length for i in infos)),
        "train_episodes": [infos[i].path.name for i in train_ids],
        "val_episodes": [infos[i].path.name for i in val_ids],
        "cameras": cameras,
        "stored_image_size": {cam: list(infos[0].image_shapes[cam]) for cam in cameras},
        "image_size": [h, w],
    }
    return TrainingData(train, val, stats, info)


def _load_split(infos: list[EpisodeInfo], cameras: list[str], size: tuple[int, int], chunk_size: int,
                bar, expected: dict, obs_steps: int = 1) -> ChunkDataset:
    total = sum(i.length for i in infos)
    images = np.empty((total, len(cameras), size[0], size[1], 3), np.uint8)  # filled in place: no 2x peak
    qpos, actions, ends, start = [], [], [], 0
    for info in infos:
        q, a = read_vectors(info)
        read_frames_into(info, cameras, images[start:start + info.length], expected.get(info.path))
        qpos.append(q)
        actions.append(a)
        start += info.length
        ends.append(np.full(info.length, start, np.int64))
        if bar is not None:
            bar.update(1)
    return ChunkDataset(np.concatenate(qpos), np.concatenate(actions), images, np.concatenate(ends),
                        chunk_size, cameras, obs_steps)


def _progress(total: int, desc: str, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit="ep", leave=False)
