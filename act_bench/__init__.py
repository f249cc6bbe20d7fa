"""act-bench: a simulation benchmark for Action Chunking with Transformers (ACT)."""
import os

os.environ.setdefault("MUJOCO_GL", "egl")

__version__ = "0.1.0"


def _register_envs() -> None:
    """Import the task modules (built-in and plugins): each registers its Gymnasium id, so
    `import act_bench; gymnasium.make("act_bench/TransferCube-v0")` works."""
    from act_bench.tasks.registry import load_tasks

    load_tasks()


_register_envs()
