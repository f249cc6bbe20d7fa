"""Tasks by name: each task module registers one TaskSpec, and every list of tasks (CLI
choices, env ids, report order, regression) is read from here.

A task is one module plus its TOML (as in dm_control's suite): the module defines the stage
rule and the scripted expert and calls `register_task(TaskSpec(...))` at import. The built-in
tasks are imported on the first lookup; installed packages add theirs through the
`act_bench.plugins` entry-point group (see plugins.py).
"""
from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path

from act_bench.errors import ActBenchError, RenderingUnavailable
from act_bench.plugins import load_plugins
from act_bench.tasks.config import TaskConfig, read_task_config

_BUILTIN_MODULES = ("act_bench.tasks.transfer_cube", "act_bench.tasks.insertion")
_REGISTRY: dict[str, "TaskSpec"] = {}
_loaded = False


@dataclass(frozen=True)
class TaskSpec:
    """Everything act-bench knows about a task, in one place.

    name: the CLI name; env_id: the Gymnasium id (bump its version when the task changes);
    stage_rule: a StageRule subclass (places the objects, scores stages 0..N from contacts);
    expert: a ScriptedExpert subclass (the demonstrator); config_file: the task's TOML (episode
    length, default cameras and image size, stage names, placement ranges); default: part of
    `act-bench run`'s default task list (False for a task kept as an earlier version)."""

    name: str
    env_id: str
    stage_rule: type
    expert: type
    config_file: Path
    default: bool = True

    def config(self) -> TaskConfig:
        return read_task_config(self.config_file)


def register_task(spec: TaskSpec) -> TaskSpec:
    """Add a task (and its Gymnasium id). Registering the same spec twice is harmless."""
    old = _REGISTRY.get(spec.name)
    if old is not None and old != spec:
        raise ValueError(f"task {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    _register_env(spec)
    return spec


def _register_env(spec: TaskSpec) -> None:
    import gymnasium as gym

    if spec.env_id not in gym.registry:  # a string entry point: mujoco loads on the first gym.make
        # max_episode_steps: what LeRobot's env factories and gym's TimeLimit read (the env
        # also truncates there itself)
        gym.register(id=spec.env_id, entry_point="act_bench.envs.aloha:AlohaEnv", kwargs={"task": spec.name},
                     max_episode_steps=spec.config().episode_len)


def import_mujoco() -> None:
    """Import mujoco, which loads the GL library MUJOCO_GL names at import time: a missing one
    is a RenderingUnavailable (one line from the CLI), not PyOpenGL's AttributeError."""
    try:
        import mujoco  # noqa: F401
    except ImportError:
        raise
    except Exception as exc:
        gl = os.environ.get("MUJOCO_GL")
        raise RenderingUnavailable(
            f"MuJoCo cannot load the GL library for MUJOCO_GL={gl} ({type(exc).__name__}: {exc}); install it "
            "(osmesa: libosmesa6; egl: libegl1 libgl1 libgles2 libglvnd0 libgl1-mesa-dri) or choose another "
            "MUJOCO_GL") from None


def load_builtin_tasks() -> None:
    """Import the built-in task modules (`import act_bench` does, registering their env ids)."""
    import_mujoco()
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)


def load_tasks() -> None:
    """The built-in tasks and the installed plugins' (once)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    load_builtin_tasks()
    load_plugins()


def task_names() -> tuple[str, ...]:
    """Registered tasks, built-ins first, in registration order."""
    load_tasks()
    return tuple(_REGISTRY)


def success_stage(task: str, last: int) -> int:
    """The stage index that counts as success: a registered task's (-v3 lists a strict stage
    after it), else (or beyond the stages shown) `last`, the last stage a results table shows."""
    try:
        return min(get_task(task).config().success_at, last)
    except ActBenchError:
        return last


def default_task_names() -> tuple[str, ...]:
    """The tasks `act-bench run` takes when --tasks is not given."""
    return tuple(name for name in task_names() if _REGISTRY[name].default)


def get_task(name: str) -> TaskSpec:
    load_tasks()
    if name not in _REGISTRY:
        raise ActBenchError(f"unknown task {name!r}; choose from {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def load_task(name: str) -> TaskConfig:
    """The registered task's configuration."""
    return get_task(name).config()
