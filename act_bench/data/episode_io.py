"""Writing one demonstration episode as HDF5, in the layout of the original ACT release.

    attrs: sim=True, plus ours (task, seed, index, attempt, max_stage, cameras, image_size,
           object poses at reset, package versions, content hash)
    /observations/qpos          (T, 14) float64
    /observations/qvel          (T, 14) float64
    /observations/images/{cam}  (T, H, W, 3) uint8, one chunk per frame, gzip
    /action                     (T, 14) float64
    /stage                      (T,) int8, the stage after each action (ours)

Files are written under a temporary name and renamed, so a reader never sees half a file.
"""
from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from act_bench.storage.atomic_io import write_bytes

IMAGE_COMPRESSION = {"compression": "gzip", "compression_opts": 4}


@dataclass
class Episode:
    qpos: np.ndarray
    qvel: np.ndarray
    action: np.ndarray
    stage: np.ndarray
    images: dict[str, np.ndarray] = field(default_factory=dict)
    attrs: dict = field(default_factory=dict)

    def content_hash(self) -> str:
        """sha256 of every array, in a fixed order: equal hashes mean identical data."""
        h = hashlib.sha256()
        for name, arr in [("qpos", self.qpos), ("qvel", self.qvel), ("action", self.action), ("stage", self.stage)]:
            h.update(name.encode())
            h.update(np.ascontiguousarray(arr).tobytes())
        for cam in sorted(self.images):
            h.update(cam.encode())
            h.update(np.ascontiguousarray(self.images[cam]).tobytes())
        return h.hexdigest()


def write_episode(path: str | Path, episode: Episode) -> str:
    """Write `episode` atomically; return its content hash."""
    digest = episode.content_hash()
    # built in memory, then written in one go: HDF5 crashes (segfault) when a write to disk
    # fails, so a full disk or a read-only folder must meet plain file writes only
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        f.attrs["sim"] = True
        for key, value in episode.attrs.items():
            f.attrs[key] = json.dumps(value) if isinstance(value, (dict, list, tuple)) else value
        f.attrs["content_hash"] = digest
        obs = f.create_group("observations")
        obs.create_dataset("qpos", data=episode.qpos.astype(np.float64))
        obs.create_dataset("qvel", data=episode.qvel.astype(np.float64))
        img = obs.create_group("images")
        for cam, frames in episode.images.items():
            img.create_dataset(cam, data=frames, dtype=np.uint8, chunks=(1, *frames.shape[1:]), **IMAGE_COMPRESSION)
        f.create_dataset("action", data=episode.action.astype(np.float64))
        f.create_dataset("stage", data=episode.stage.astype(np.int8))
    write_bytes(path, buf.getvalue())
    return digest
