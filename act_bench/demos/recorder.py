"""Roll a scripted expert through the joint-space environment and record what happened."""
from __future__ import annotations

import numpy as np

from act_bench.data.episode_io import Episode
from act_bench.envs.aloha import AlohaEnv
from act_bench.sim.robot import STATE_DIM
from act_bench.tasks.registry import get_task


def record_episode(env: AlohaEnv, seed: int, noise: float = 0.0, style: str = "scripted") -> Episode:
    """One episode of the expert in `style` (scripted or human, see scripted.style).
    Observation t is what the policy saw before action t."""
    task = env.task_config
    obs, info = env.reset(seed=seed)
    T = task.episode_len
    # The expert's own noise stream derives from the episode seed, so it is reproducible.
    policy = get_task(task.name).expert(env, rng=np.random.default_rng(seed), noise=noise)
    style_attrs = {"style": style}
    if style == "human":  # its draws too (their own stream of the seed), all recorded
        from act_bench.scripted.human import humanize

        style_attrs["human_draws"] = humanize(policy, seed, T)
    else:
        policy.reset()
    qpos, qvel, action = (np.empty((T, STATE_DIM)) for _ in range(3))
    stage = np.empty(T, dtype=np.int8)
    images = {c: np.empty((T, *env.image_size, 3), dtype=np.uint8) for c in env.cameras}
    initial_objects = {k: v.tolist() for k, v in env.object_poses.items()}
    for t in range(T):
        qpos[t], qvel[t] = obs["qpos"], obs["qvel"]
        for c in env.cameras:
            images[c][t] = obs["images"][c]
        action[t] = policy()
        obs, reward, _, _, info = env.step(action[t])
        stage[t] = int(reward)
    return Episode(
        qpos=qpos,
        qvel=qvel,
        action=action,
        stage=stage,
        images=images,
        attrs={
            "task": task.name,
            "seed": int(seed),
            "max_stage": int(info["max_stage"]),
            "success": bool(info["is_success"]),
            "noise": float(noise),
            "cameras": list(env.cameras),
            "image_size": list(env.image_size),
            "object_poses": initial_objects,
            **style_attrs,
        },
    )
