"""Where the shipped data files (MJCF assets, task and baseline TOMLs) live.

In a wheel they sit in act_bench/_data/; in a source checkout (editable install or
running from the repo) they are the top-level folders assets/, tasks/ and baselines/.
"""
from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parents[1]  # act_bench/, this file being act_bench/storage/paths.py


def data_dir(name: str) -> Path:
    """Return the folder holding `name` ("assets", "tasks" or "baselines")."""
    for candidate in (_PKG / "_data" / name, _PKG.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"act-bench data folder {name!r} not found; reinstall the package")


def assets_dir() -> Path:
    return data_dir("assets")


def tasks_dir() -> Path:
    return data_dir("tasks")


def baselines_dir() -> Path:
    return data_dir("baselines")
