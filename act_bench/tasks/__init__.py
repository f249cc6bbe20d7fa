"""Tasks: one module each (stage rule, scripted expert, registration) plus its TOML."""
from act_bench.tasks.config import ObjectRange, TaskConfig
from act_bench.tasks.registry import TaskSpec, default_task_names, get_task, load_task, register_task, task_names

__all__ = ["ObjectRange", "TaskConfig", "TaskSpec", "default_task_names", "get_task", "load_task", "register_task",
           "task_names"]
