"""Checking demonstrations against their content hashes: `act-bench verify DEMOS`.

An episode's content hash (episode_io.Episode.content_hash) is recomputed from the file by
reading every dataset in full, so every compressed chunk is decoded: an edited value, a
corrupt chunk or a truncated file is caught. Training runs the same check on every episode
it reads, and generate-demos re-records an episode that fails it.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable

import h5py
import numpy as np

from act_bench.data.folder_check import episode_paths
from act_bench.data.hdf5_read import READ_ERRORS, one_line, open_episode, read_dataset
from act_bench.errors import DataError
from act_bench.storage.layout import DEMO_MANIFEST

_VECTORS = (("qpos", "observations/qpos"), ("qvel", "observations/qvel"), ("action", "action"), ("stage", "stage"))
_BLOCK = 50  # frames decoded at a time


def hash_open_file(f: h5py.File, path: Path,
                   on_frames: Callable[[str, int, np.ndarray], None] | None = None) -> str:
    """The content hash of an open episode file, read in full; on_frames(cam, start, block)
    sees every block of frames as it is decoded (training fills its arrays from it)."""
    h = hashlib.sha256()
    for name, key in _VECTORS:
        h.update(name.encode())
        h.update(np.ascontiguousarray(read_dataset(f, path, key)).tobytes())
    cams = sorted(f["observations/images"].keys()) if "observations/images" in f else []
    for cam in cams:
        key = f"observations/images/{cam}"
        h.update(cam.encode())
        try:
            n = f[key].shape[0]
        except READ_ERRORS as exc:
            raise DataError(f"{path}: {key}: unreadable: {one_line(exc)}") from None
        for start in range(0, n, _BLOCK):
            block = read_dataset(f, path, key, slice(start, start + _BLOCK))
            h.update(np.ascontiguousarray(block).tobytes())
            if on_frames is not None:
                on_frames(cam, start, block)
    return h.hexdigest()


def stored_hash(f: h5py.File) -> str | None:
    value = f.attrs.get("content_hash")
    return None if value is None else str(value.decode() if isinstance(value, bytes) else value)


def check_hash(path: Path, stored: str | None, computed: str, expected: str | None = None) -> None:
    """DataError when the recomputed hash differs from the file's own or the manifest's."""
    if stored is not None and computed != stored:
        raise DataError(f"{path}: content differs from its recorded hash (edited or corrupt); "
                        "regenerate it with the same generate-demos command")
    if expected is not None and computed != expected:
        raise DataError(f"{path}: content differs from the hash in {DEMO_MANIFEST} (replaced or edited); "
                        "regenerate it with the same generate-demos command")


def verify_episode(path: str | Path, expected: str | None = None) -> str:
    """Recompute an episode's content hash (every chunk read) and check it; returns it."""
    path = Path(path)
    with open_episode(path) as f:
        computed = hash_open_file(f, path)
        check_hash(path, stored_hash(f), computed, expected)
    return computed


def manifest_hashes(folder: Path) -> dict[str, str]:
    """file name -> content hash, as the folder's manifest lists them ({} without a manifest)."""
    try:
        manifest = json.loads((Path(folder) / DEMO_MANIFEST).read_text())
        return dict(zip(manifest["files"], manifest["content_hashes"]))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{folder / DEMO_MANIFEST}: unreadable: {one_line(exc)}") from None


def verify_folder(folder: str | Path) -> list[tuple[str, str]]:
    """[(file, problem)] for every episode of the folder (and every manifest entry) that fails."""
    folder = Path(folder)
    listed = manifest_hashes(folder)
    paths = episode_paths(folder)
    problems = []
    for name in listed:
        if not (folder / name).is_file():
            problems.append((name, "listed in the manifest but missing"))
    for path in paths:
        try:
            verify_episode(path, listed.get(path.name))
        except DataError as exc:
            problems.append((path.name, str(exc).split(": ", 1)[-1]))
    return problems


# --- CLI -----------------------------------------------------------------------------------
def add_arguments(p) -> None:
    p.add_argument("dir", help="a folder written by act-bench generate-demos")


def main(args) -> int:
    folder = Path(args.dir)
    n = len(episode_paths(folder))
    problems = verify_folder(folder)
    if problems:
        first = "; ".join(f"{name}: {why}" for name, why in problems[:3])
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise DataError(f"{folder}: {len(problems)} of {n} episodes fail verification: {first}{more}")
    print(f"{folder}: {n} episodes verified (content hashes recomputed, every chunk read)")
    return 0
