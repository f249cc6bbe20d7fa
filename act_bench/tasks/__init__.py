"""Tasks: one module each (stage rule, scripted expert, registration) plus its TOML."""
from act_bench.tasks.config import ObjectRange, TaskConfig, load_task
from act_bench.tasks.registry import TaskSpec, get_task, register_task, task_names

__all__ = ["ObjectRange", "TaskConfig", "TaskSpec", "get_task", "load_task", "register_task", "task_names"]
