"""One evaluation episode: a policy's chunks, executed through an action selector, in an env.

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


def policy_device(policy: ChunkPolicy):
    try:
        return next(policy.parameters()).device  # a torch module
    except (StopIteration, AttributeError):
        return "cpu"


def query_batch(policy: ChunkPolicy, observations: Sequence[dict], cameras: Sequence[str], device) -> np.ndarray:
    """One query for several observations -> a (len(observations), k, A) float64 array."""
    import torch

    qpos = torch.as_tensor(np.stack([np.asarray(o["qpos"]) for o in observations]), dtype=torch.float32,
                           device=device)
    images = torch.from_numpy(np.stack([np.stack([o["images"][c] for c in cameras]) for o in observations]))
    with torch.inference_mode():
        chunk = policy.predict_chunk(qpos, images.to(device))
    return torch.as_tensor(chunk).detach().to("cpu", torch.float64).numpy()


def query(policy: ChunkPolicy, obs: dict, cameras: Sequence[str], device) -> np.ndarray:
    """One batch-1 query -> a (1, k, A) float64 chunk."""
    return query_batch(policy, [obs], cameras, device)


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


def run_episode(env, policy: ChunkPolicy, selector, episode_seed: int, stage_names: Sequence[str],
                video=None) -> dict:
    """One rollout on its own (the reference the lockstep evaluation is tested against). Stops at the time limit, or at success (max_stage is final by then, so
    stopping early changes no outcome)."""
    cameras = list(policy.camera_names)
    device = policy_device(policy)
    start = time.perf_counter()
    obs, info = env.reset(seed=int(episode_seed))
    selector.reset()
    n_stages = len(stage_names)
    max_stage = length = 0
    if video is not None:
        video.add(video_frame(env, obs, cameras), 0, 0, 0, force=True)
    done = False
    while not done:
        if selector.needs_query():
            selector.add(query(policy, obs, cameras, device))
        obs, _, terminated, truncated, info = env.step(selector.pop())
        length += 1
        stage, max_stage = int(info["stage"]), max(max_stage, int(info["max_stage"]))
        done = terminated or truncated or max_stage >= n_stages
        if video is not None:
            video.add(video_frame(env, obs, cameras), length, stage, max_stage, force=done)
    if video is not None:
        video.hold()  # show the final state for a moment
    return episode_row(max_stage, length, selector.queries, stage_names, start)


def episode_row(max_stage: int, length: int, queries: int, stage_names: Sequence[str], start: float) -> dict:
    """An episode's row of episodes.csv (less its index and seed)."""
    n_stages = len(stage_names)
    row = {"max_stage": max_stage, "success": int(max_stage >= n_stages), "length": length, "queries": int(queries)}
    for i, name in enumerate(stage_names, start=1):
        row[f"reached_{name}"] = int(max_stage >= i)
    row["seconds"] = round(time.perf_counter() - start, 3)
    return row
