"""Small synthetic demonstrations in the HDF5 layout that generate-demos writes (data/episode_io.py), and tiny profiles,
for the dataset, policy and training tests (no MuJoCo needed).

The episodes are learnable: qpos follows smooth curves whose phase depends on the episode,
the action at t is qpos at t+1, and the frames show a bright square whose position encodes t.
"""
from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from act_bench.policies.config import load_profile


def fake_episode_arrays(T: int = 40, cams=("top",), H: int = 24, W: int = 32, seed: int = 0):
    """(qpos (T,14), action (T,14), {cam: uint8 (T,H,W,3)})."""
    rng = np.random.default_rng(seed)
    t = np.arange(T + 1)[:, None]
    phase = rng.uniform(0, 2 * np.pi, size=(1, 14))
    traj = 0.5 * np.sin(2 * np.pi * t / T + phase) + 0.1 * rng.normal(size=(1, 14))
    traj[:, [6, 13]] = 0.5 + 0.5 * np.sin(2 * np.pi * t[:, :1] / T)  # grippers in [0, 1]
    qpos, action = traj[:-1], traj[1:]
    images = {}
    for c, cam in enumerate(cams):
        frames = np.full((T, H, W, 3), 30 + 20 * c, np.uint8)
        for i in range(T):
            y = (i * (H - 4)) // max(T - 1, 1)
            x = int((seed * 7 + c * 5) % (W - 4))
            frames[i, y:y + 4, x:x + 4] = (250, 40, 40)
        images[cam] = frames
    return qpos, action, images


def write_fake_episode(path, T: int = 40, cams=("top",), H: int = 24, W: int = 32, seed: int = 0,
                       task: str = "transfer_cube") -> Path:
    """Write one episode file like act_bench's demo generator does."""
    path = Path(path)
    qpos, action, images = fake_episode_arrays(T, cams, H, W, seed)
    with h5py.File(path, "w") as f:
        f.attrs["sim"] = True
        f.attrs["task"] = task
        f.attrs["seed"] = seed
        f.attrs["cameras"] = json.dumps(list(cams))
        f.attrs["image_size"] = json.dumps([H, W])
        f.create_dataset("observations/qpos", data=qpos.astype(np.float64))
        f.create_dataset("observations/qvel", data=np.zeros_like(qpos))
        for cam, frames in images.items():
            f.create_dataset(f"observations/images/{cam}", data=frames, chunks=(1, H, W, 3), compression="gzip")
        f.create_dataset("action", data=action.astype(np.float64))
        f.create_dataset("stage", data=np.zeros(T, np.int8))
    return path


def write_fake_demos(folder, episodes: int = 2, T: int = 40, cams=("top",), H: int = 24, W: int = 32,
                     task: str = "transfer_cube") -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(episodes):
        write_fake_episode(folder / f"episode_{i}.hdf5", T, cams, H, W, seed=i, task=task)
    return folder


# Overrides that make any profile tiny: a few seconds of training on 2 cores.
TINY = {
    "model.chunk_size": 8, "model.d_model": 32, "model.n_heads": 4, "model.dim_feedforward": 64,
    "model.enc_layers": 1, "model.dec_layers": 1, "model.cvae_enc_layers": 1, "model.latent_dim": 8,
    "model.backbone": "small_cnn", "model.cnn_channels": [8, 16, 32], "model.mlp_hidden": 64,
    "data.image_size": [24, 32], "data.val_fraction": 0.5,
    "train.steps": 12, "train.batch_size": 4, "train.lr": 1e-3, "train.lr_backbone": 1e-3,
    "train.log_every": 2, "train.val_every": 4, "train.val_batches": 2, "train.checkpoint_every": 5,
    "train.num_threads": 1,
}


def tiny_profile(method: str = "act", overrides: dict | None = None):
    """The ci profile shrunk by TINY, then `overrides` ({"section.key": value})."""
    merged = dict(TINY)
    if method == "bc":
        merged["model.chunk_size"] = 1
    merged.update(overrides or {})
    return load_profile(method, "ci", merged)
