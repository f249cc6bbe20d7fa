"""act-bench: a simulation benchmark for Action Chunking with Transformers (ACT)."""
import os

os.environ.setdefault("MUJOCO_GL", "egl")

__version__ = "0.1.0"


def _register_envs() -> None:
    """Import the built-in task modules: each registers its Gymnasium id, so
    `import act_bench; gymnasium.make("act_bench/TransferCube-v1")` works. Plugins' tasks
    register theirs when act-bench first lists tasks (act_bench.tasks.task_names())."""
    from act_bench.errors import RenderingUnavailable
    from act_bench.tasks.registry import load_builtin_tasks

    try:
        load_builtin_tasks()
    except RenderingUnavailable:  # no usable GL library: the command that needs the tasks says so in one line
        pass


_register_envs()
