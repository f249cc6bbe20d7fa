"""Versions of the packages that shape results, recorded beside data and checkpoints."""
from __future__ import annotations

from importlib import metadata

PACKAGES = ("act-bench", "mujoco", "dm_control", "gymnasium", "numpy", "torch", "h5py")


def package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out
