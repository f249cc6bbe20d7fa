"""Policies and methods by name.

A policy is a trainable model (a Policy subclass with its own PolicyConfig subclass and its
profiles folder); a method is one way of executing a trained policy in evaluation, which is
what results tables compare: ACT registers `act` (temporal ensembling) and `act-no-te`
(open-loop chunks) over the one trained `act` policy. A bound is a method that needs no training
(register_bound: act_bench.policies.bounds' scripted expert and do-nothing policies), scored
beside the learned ones as an upper or lower bound. Every list of methods (CLI choices,
evaluation, report order) is read from here. The built-in policy modules are imported on the
first lookup; installed packages add theirs through the `act_bench.plugins` entry points.
Policies trained elsewhere (act_bench.policies.external) are added by name with register_agent.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from act_bench.errors import ActBenchError
from act_bench.plugins import load_plugins
from act_bench.storage.paths import baselines_dir

EXECUTIONS = ("ensemble", "open_loop", "single")
_BUILTIN_MODULES = ("act_bench.policies.act", "act_bench.policies.bc", "act_bench.policies.diffusion")
_BOUNDS_MODULE = "act_bench.policies.bounds"  # listed after every learned method, plugins' included
BOUNDS = ("upper", "lower")
_POLICIES: dict[str, "PolicySpec"] = {}
_METHODS: dict[str, "MethodSpec"] = {}
_AGENTS: dict[str, Callable] = {}  # external policies' factories, by name (register_agent)
_loaded = False


@dataclass(frozen=True)
class PolicySpec:
    name: str
    policy_class: type  # a Policy subclass
    config_class: type  # its [model] section: a PolicyConfig subclass
    profiles_dir: Path  # {profile}.toml files


@dataclass(frozen=True)
class MethodSpec:
    name: str
    policy: str  # the trained policy it executes
    execution: str  # "ensemble" (query every step), "open_loop" (run chunks), "single" (one action)
    bound: str = ""  # "" a trained policy's method; "upper" / "lower": a reference that needs no training
    make: Callable | None = None  # a bound's policy for a task: make(task) -> rollout.ChunkPolicy
    description: str = ""

    @property
    def trained(self) -> bool:
        return not self.bound

    @property
    def kind(self) -> str:
        """What a results table says the method is: "trained", "upper bound" or "lower bound"."""
        return f"{self.bound} bound" if self.bound else "trained"


def register_policy(name: str, config_class: type, profiles_dir: str | Path | None = None) -> Callable[[type], type]:
    """Class decorator: register a Policy subclass under `name`. Its profiles live in
    profiles_dir (default: the shipped baselines/{name}/)."""
    def wrap(cls: type) -> type:
        spec = PolicySpec(name, cls, config_class,
                          Path(profiles_dir) if profiles_dir is not None else baselines_dir() / name)
        if name in _POLICIES and _POLICIES[name].policy_class is not cls:
            raise ValueError(f"policy {name!r} is already registered")
        cls.name = name
        _POLICIES[name] = spec
        return cls
    return wrap


def register_method(name: str, policy: str, execution: str) -> MethodSpec:
    """Register a way of executing `policy` in evaluation under the method name `name`."""
    if execution not in EXECUTIONS:
        raise ValueError(f"execution must be one of {', '.join(EXECUTIONS)}, got {execution!r}")
    spec = MethodSpec(name, policy, execution)
    if _METHODS.get(name, spec) != spec:
        raise ValueError(f"method {name!r} is already registered")
    _METHODS[name] = spec
    return spec


def register_bound(name: str, make: Callable, bound: str, description: str) -> MethodSpec:
    """Register a method that needs no training: make(task) gives its policy for a task, executed
    open-loop; bound "upper" or "lower" says which side of the learned methods it marks."""
    if bound not in BOUNDS:
        raise ValueError(f"bound must be one of {', '.join(BOUNDS)}, got {bound!r}")
    spec = MethodSpec(name, name, "open_loop", bound, make, description)
    if _METHODS.get(name, spec) != spec:
        raise ValueError(f"method {name!r} is already registered")
    _METHODS[name] = spec
    return spec


def register_agent(name: str, factory: Callable) -> Callable:
    """Register a factory of an external policy (act_bench.policies.external) under `name`, so
    `act-bench eval --policy NAME` evaluates what factory(**policy_args) returns. Also a decorator."""
    if _AGENTS.get(name, factory) is not factory:
        raise ValueError(f"policy factory {name!r} is already registered")
    _AGENTS[name] = factory
    return factory


def agent_names() -> tuple[str, ...]:
    _load()
    return tuple(_AGENTS)


def get_agent(name: str) -> Callable:
    _load()
    if name not in _AGENTS:
        known = ", ".join(_AGENTS) or "none registered"
        raise ActBenchError(f"unknown policy {name!r} (use module:factory, or a registered name: {known})")
    return _AGENTS[name]


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in (*_BUILTIN_MODULES, _BOUNDS_MODULE):
        importlib.import_module(module)
    load_plugins()


def _rank(policy: str) -> int:
    """Where a policy's module comes: the built-ins in _BUILTIN_MODULES' order, whichever was
    imported first, then the rest (plugins) in registration order."""
    spec = _POLICIES.get(policy)
    module = spec.policy_class.__module__ if spec is not None else None
    return _BUILTIN_MODULES.index(module) if module in _BUILTIN_MODULES else len(_BUILTIN_MODULES)


def policy_names() -> tuple[str, ...]:
    _load()
    return tuple(sorted(_POLICIES, key=_rank))  # a stable sort: registration order within a module


def _method_rank(name: str) -> int:
    """The learned methods by their policy's rank, then the bounds (upper first)."""
    spec = _METHODS[name]
    if spec.bound:
        return len(_BUILTIN_MODULES) + 1 + BOUNDS.index(spec.bound)
    return _rank(spec.policy)


def method_names() -> tuple[str, ...]:
    """Registered methods, built-ins first, in registration order, the bounds last (the report's order)."""
    _load()
    return tuple(sorted(_METHODS, key=_method_rank))


def bound_names() -> tuple[str, ...]:
    """The methods that need no training (register_bound), in method_names' order."""
    return tuple(m for m in method_names() if _METHODS[m].bound)


def get_policy(name: str) -> PolicySpec:
    _load()
    if name not in _POLICIES:
        raise ActBenchError(f"unknown policy {name!r}; choose from {', '.join(_POLICIES)}")
    return _POLICIES[name]


def get_method(name: str) -> MethodSpec:
    _load()
    if name not in _METHODS:
        raise ActBenchError(f"unknown method {name!r}; choose from {', '.join(_METHODS)}")
    return _METHODS[name]
