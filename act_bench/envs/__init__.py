"""Gymnasium environments: act_bench/TransferCube-v0 and act_bench/Insertion-v0."""
from __future__ import annotations

from act_bench import ENV_IDS
from act_bench.envs.aloha import AlohaEnv

__all__ = ["AlohaEnv", "ENV_IDS", "make_env"]


def make_env(task: str, cameras=("top",), image_size=(480, 640), render_mode=None, **kwargs) -> AlohaEnv:
    """Make a task's environment directly (no wrappers)."""
    return AlohaEnv(task, cameras=cameras, image_size=image_size, render_mode=render_mode, **kwargs)
