"""Tasks and methods from installed packages, without editing act-bench.

A package declares an entry point in the `act_bench.plugins` group naming a module; act-bench
imports that module the first time it lists tasks or methods, and the module registers what it
adds with `register_task`, `register_policy` / `register_method` (policies act-bench trains) and/or
`register_agent` (a factory of a policy trained elsewhere, evaluated by `act-bench eval --policy
NAME`; see act_bench.policies.external for the interface it returns):

    [project.entry-points."act_bench.plugins"]
    my_task = "my_package.my_task"
"""
from __future__ import annotations

from importlib.metadata import entry_points

from act_bench.errors import ActBenchError

GROUP = "act_bench.plugins"
_loaded = False


def load_plugins() -> None:
    """Import every plugin module once; a broken plugin is a one-line error naming it."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for ep in entry_points(group=GROUP):
        try:
            ep.load()
        except Exception as exc:  # any failure inside a third-party module
            raise ActBenchError(f"plugin {ep.name!r} ({ep.value}) failed to load: "
                                f"{type(exc).__name__}: {exc}") from None
