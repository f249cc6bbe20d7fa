"""Policies by name: a method adds itself with @register("name") and is built from a profile."""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Callable

from act_bench.errors import ActBenchError

if TYPE_CHECKING:
    from act_bench.data.normalization import NormStats
    from act_bench.policies.base import Policy
    from act_bench.policies.config import Profile

_REGISTRY: dict[str, type] = {}
# modules that register the built-in policies; imported on first lookup (avoids import cycles)
_BUILTIN_MODULES = ("act_bench.policies.act", "act_bench.policies.bc")


def register(name: str) -> Callable[[type], type]:
    def wrap(cls: type) -> type:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"policy {name!r} is already registered")
        cls.name = name
        _REGISTRY[name] = cls
        return cls
    return wrap


def _load_builtins() -> None:
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)


def available_policies() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


def policy_class(name: str) -> type:
    _load_builtins()
    if name not in _REGISTRY:
        raise ActBenchError(f"unknown policy {name!r}; choose from {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def build_policy(profile: "Profile", stats: "NormStats | None" = None) -> "Policy":
    """A freshly initialised policy for profile.method (weights depend on torch's RNG state)."""
    return policy_class(profile.method)(profile, stats)
