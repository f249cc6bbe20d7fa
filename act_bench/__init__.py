"""act-bench: a simulation benchmark for Action Chunking with Transformers (ACT)."""
import os

os.environ.setdefault("MUJOCO_GL", "egl")

__version__ = "0.1.0"

ENV_IDS = {"transfer_cube": "act_bench/TransferCube-v0", "insertion": "act_bench/Insertion-v0"}


def _register_envs() -> None:
    import gymnasium as gym

    # String entry points keep `import act_bench` light: mujoco loads on the first gym.make.
    for task, env_id in ENV_IDS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point="act_bench.envs.aloha:AlohaEnv", kwargs={"task": task})


_register_envs()
