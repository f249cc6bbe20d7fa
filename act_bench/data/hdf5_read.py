"""Reading episode files with one error policy: whatever h5py raises on a truncated or corrupt
file becomes a one-line DataError naming the file and the dataset (dataset.py and verify.py)."""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from act_bench.errors import DataError

READ_ERRORS = (OSError, ValueError, RuntimeError, KeyError, TypeError)


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def open_episode(path: Path) -> h5py.File:
    try:
        return h5py.File(path, "r")
    except READ_ERRORS as exc:
        raise DataError(f"{path}: not a readable HDF5 file (truncated or corrupt?): {one_line(exc)}") from None


def get_dataset(f: h5py.File, path: Path, key: str) -> h5py.Dataset:
    """The dataset `key`, not read yet; missing or unreadable: DataError."""
    try:
        ds = f.get(key)
    except READ_ERRORS as exc:
        raise DataError(f"{path}: {key}: unreadable: {one_line(exc)}") from None
    if not isinstance(ds, h5py.Dataset):
        available = sorted(f["observations/images"].keys()) if "observations/images" in f else []
        hint = f" (cameras in file: {', '.join(available)})" if key.startswith("observations/images/") else ""
        raise DataError(f"{path}: missing dataset {key!r}{hint}")
    return ds


def read_dataset(f: h5py.File, path: Path, key: str, sel=slice(None)) -> np.ndarray:
    """f[key][sel], decoding every chunk it touches; unreadable: DataError."""
    try:
        return f[key][sel]
    except READ_ERRORS as exc:
        raise DataError(f"{path}: {key}: unreadable (truncated or corrupt?): {one_line(exc)}") from None
