"""Task configuration: one TOML per task (tasks/{name}.toml for the built-ins), loaded into a
typed dataclass."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field

from pathlib import Path

from act_bench.errors import ActBenchError


@dataclass(frozen=True)
class ObjectRange:
    """Uniform placement range of one free object: (low, high) per axis."""

    x: tuple[float, float]
    y: tuple[float, float]
    z: tuple[float, float]

    @property
    def low(self) -> tuple[float, float, float]:
        return (self.x[0], self.y[0], self.z[0])

    @property
    def high(self) -> tuple[float, float, float]:
        return (self.x[1], self.y[1], self.z[1])


@dataclass(frozen=True)
class TaskConfig:
    name: str
    model: str
    episode_len: int
    control_dt: float
    cameras: tuple[str, ...]
    image_size: tuple[int, int]
    stage_names: tuple[str, ...]
    objects: dict[str, ObjectRange] = field(default_factory=dict)
    # one sentence saying what the robot does: LeRobot's task string and the env's metadata
    description: str = ""
    # colour of every robot geom, or None for the model's own (the -v2 tasks: the original
    # release's light-grey arms, MuJoCo's default geom colour on its meshes)
    arm_rgba: tuple[float, float, float, float] | None = None
    # the shadow map's size in pixels, or None for the model's own; 0 turns shadows off (no
    # built-in task sets it: scripts/one_change.py uses it to test what shadows do)
    shadow_size: int | None = None
    # The stage that counts as success (the original release's rule); None: the last one. A
    # task may list one stricter stage after it, reached only at the episode's end when the
    # stage rule's strict_holds() was true for each of its last `strict_hold_steps` steps.
    success_stage: int | None = None
    strict_hold_steps: int = 0

    @property
    def max_stage(self) -> int:
        return len(self.stage_names)

    @property
    def success_at(self) -> int:
        """The stage whose reaching is success."""
        return self.max_stage if self.success_stage is None else self.success_stage


def read_task_config(path: str | Path) -> TaskConfig:
    """Read one task TOML."""
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ActBenchError(f"{path}: cannot read task config: {exc}") from None
    objects = {
        obj: ObjectRange(**{axis: tuple(rng) for axis, rng in axes.items()})
        for obj, axes in raw.pop("objects", {}).items()
    }
    return TaskConfig(
        name=raw["name"],
        model=raw["model"],
        episode_len=int(raw["episode_len"]),
        control_dt=float(raw["control_dt"]),
        cameras=tuple(raw["cameras"]),
        image_size=tuple(raw["image_size"]),
        stage_names=tuple(raw["stage_names"]),
        objects=objects,
        description=str(raw.get("description", "")),
        arm_rgba=_arm_rgba(path, raw.get("look", {}).get("arm_rgba")),
        shadow_size=_shadow_size(path, raw.get("look", {}).get("shadow_size")),
        **_strict(path, raw),
    )


def _strict(path, raw) -> dict:
    """success_stage and strict_hold_steps, checked: a strict stage is exactly one stage after
    success and needs a positive hold."""
    success, hold = raw.get("success_stage"), raw.get("strict_hold_steps", 0)
    if success is None and not hold:
        return {}
    n = len(raw["stage_names"])
    if not isinstance(success, int) or isinstance(success, bool) or success != n - 1:
        raise ActBenchError(f"{path}: success_stage must be {n - 1} (one strict stage after it), got {success!r}")
    if not isinstance(hold, int) or isinstance(hold, bool) or not 0 < hold < int(raw["episode_len"]):
        raise ActBenchError(f"{path}: strict_hold_steps must be an integer in [1, episode_len), got {hold!r}")
    return {"success_stage": success, "strict_hold_steps": hold}


def _shadow_size(path, value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 16384:
        raise ActBenchError(f"{path}: look.shadow_size must be an integer in [0, 16384], got {value!r}")
    return value


def _arm_rgba(path, value) -> tuple[float, float, float, float] | None:
    if value is None:
        return None
    if len(value) != 4 or not all(isinstance(v, (int, float)) and 0 <= v <= 1 for v in value):
        raise ActBenchError(f"{path}: look.arm_rgba must be 4 numbers in [0, 1], got {value!r}")
    return tuple(float(v) for v in value)
