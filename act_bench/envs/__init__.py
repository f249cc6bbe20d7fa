"""The Gymnasium environment of every registered task (ids in act_bench.tasks.task_names())."""
from __future__ import annotations

from act_bench.envs.aloha import AlohaEnv

__all__ = ["AlohaEnv", "make_env"]


def make_env(task: str, cameras=None, image_size=None, render_mode=None, **kwargs) -> AlohaEnv:
    """Make a task's environment directly (no wrappers); cameras and image size default to the
    task's TOML. Its renderers start here, so a missing GL stack fails now, before the caller
    writes anything (gymnasium.make leaves that to the first frame: see AlohaEnv)."""
    env = AlohaEnv(task, cameras=cameras, image_size=image_size, render_mode=render_mode, **kwargs)
    try:
        env.start_rendering()
    except BaseException:
        env.close()
        raise
    return env
