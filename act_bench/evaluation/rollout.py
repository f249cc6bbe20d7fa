"""What the evaluation asks of a policy and how: the ChunkPolicy interface, one batched query,
the video frame of a step and an episode's row of episodes.csv (lockstep.py runs the episodes).

The evaluator is typed against `ChunkPolicy`, the small interface every policy offers (act-bench's
own Policy subclasses, and any plugin or wrapped policy that has these members).
"""
from __future__ import annotations

import time
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np


@runtime_checkable
class ChunkPolicy(Protocol):
    camera_names: Sequence[str]  # the cameras it reads, in order
    image_size: tuple[int, int]  # (H, W) it wants from the env
    chunk_size: int  # actions per query

    def predict_chunk(self, qpos, images) -> Any:
        """qpos (B, S) float, images (B, n_cam, H, W, 3) uint8 -> actions (B, k, A)."""

    def eval(self) -> Any:
        """Inference mode (no dropout)."""

    # optional: obs_history (int, default 1), the observations a query reads (observation_steps);
    # episode_aware (bool): predict_chunk(qpos, images, seeds=, steps=) also gets each queried
    # episode's seed and step, for a policy that plans from the start's layout as a scripted
    # expert does (policies.bounds)


def observation_steps(policy: ChunkPolicy) -> int:
    """How many observations a query of `policy` reads: its obs_history (the current one and
    those before it), 1 for a policy without one."""
    return int(getattr(policy, "obs_history", 1) or 1)


def policy_device(policy: ChunkPolicy):
    try:
        return next(policy.parameters()).device  # a torch module
    except (StopIteration, AttributeError):
        return "cpu"


def query_batch(policy: ChunkPolicy, observations: Sequence, cameras: Sequence[str], device,
                episodes: Sequence[tuple[int, int]] = ()) -> np.ndarray:
    """One query for several observations -> a (len(observations), k, A) float64 array. For a
    policy with observation_steps n > 1, each element is the list of an episode's last n
    observations, oldest first (qpos and images then get a time axis after the batch).
    episodes: each observation's (episode seed, step), passed on to an episode_aware policy.
    A policy with no cameras gets images with a camera axis of length 0."""
    import torch

    def frames(o: dict) -> np.ndarray:
        if not cameras:
            return np.zeros((0, *policy.image_size, 3), np.uint8)
        return np.stack([o["images"][c] for c in cameras])

    if observation_steps(policy) > 1:
        qpos = np.stack([np.stack([np.asarray(o["qpos"]) for o in window]) for window in observations])
        images = np.stack([np.stack([frames(o) for o in window]) for window in observations])
    else:
        qpos = np.stack([np.asarray(o["qpos"]) for o in observations])
        images = np.stack([frames(o) for o in observations])
    qpos = torch.as_tensor(qpos, dtype=torch.float32, device=device)
    images = torch.from_numpy(images)
    extra = {}
    if getattr(policy, "episode_aware", False):
        extra = {"seeds": [int(seed) for seed, _ in episodes], "steps": [int(step) for _, step in episodes]}
    with torch.inference_mode():
        chunk = policy.predict_chunk(qpos, images.to(device), **extra)
    return torch.as_tensor(chunk).detach().to("cpu", torch.float64).numpy()


def video_frame(env, obs: dict, cameras: Sequence[str]) -> np.ndarray:
    """A frame for the video: env.render() if the env renders, else the policy's first camera."""
    if getattr(env, "render_mode", None) == "rgb_array":
        try:
            frame = env.render()
            if frame is not None:
                return frame
        except Exception:  # a broken renderer must not cost the evaluation
            pass
    images = obs["images"]
    return images["top"] if "top" in images else images[cameras[0]]


def episode_row(max_stage: int, success: bool, length: int, queries: int, stage_names: Sequence[str],
                start: float) -> dict:
    """An episode's row of episodes.csv (less its index and seed); success as the env's
    info["is_success"] said."""
    row = {"max_stage": max_stage, "success": int(success), "length": length, "queries": int(queries)}
    for i, name in enumerate(stage_names, start=1):
        row[f"reached_{name}"] = int(max_stage >= i)
    row["seconds"] = round(time.perf_counter() - start, 3)
    return row
