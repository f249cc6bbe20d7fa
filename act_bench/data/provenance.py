"""Which demonstrations a run was trained on, as part of its identity.

    {"dir": the folder, "settings": its settings.json (task, seed, cameras, image size, noise),
     "episodes": how many were used (the first N), "content_hash": sha256 of their content
     hashes in order}

The record is cheap to make (from manifest.json; training then checks every file against it).
Runs trained before it existed recorded only data.episodes, data.stored_image_size and
data.data_dir: they are compared on those (see legacy_difference).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from act_bench.data.dataset import episode_paths
from act_bench.data.hdf5_read import open_episode
from act_bench.data.verify import manifest_hashes, stored_hash, verify_episode
from act_bench.errors import DataError
from act_bench.storage.layout import DEMO_MANIFEST, DEMO_SETTINGS


def combined_hash(hashes: list[str]) -> str:
    return hashlib.sha256("\n".join(hashes).encode()).hexdigest()


def episode_hashes(paths: list[Path]) -> list[str]:
    """Each episode's content hash: the manifest's, else the file's own, else recomputed."""
    listed = manifest_hashes(paths[0].parent) if paths else {}
    out = []
    for path in paths:
        digest = listed.get(path.name)
        if digest is None:
            with open_episode(path) as f:
                digest = stored_hash(f)
        out.append(digest or verify_episode(path))
    return out


def demo_record(data_dir: str | Path, episodes: int | None = None) -> dict:
    """The identity of the first `episodes` demos of data_dir (all when None or 0)."""
    folder = Path(data_dir)
    paths = episode_paths(folder)
    if episodes:
        if len(paths) < episodes:
            raise DataError(f"{folder} holds {len(paths)} episodes, fewer than the {episodes} asked for")
        paths = paths[:episodes]
    try:
        settings = json.loads((folder / DEMO_SETTINGS).read_text())
    except FileNotFoundError:
        settings = None
    except (OSError, ValueError) as exc:
        raise DataError(f"{folder / DEMO_SETTINGS}: unreadable: {' '.join(str(exc).split())}") from None
    hashes = episode_hashes(paths)
    return {"dir": str(folder.resolve()), "settings": settings, "episodes": len(paths),
            "content_hash": combined_hash(hashes), "episode_hashes": hashes}


def identity(record: dict) -> dict:
    """The part that decides the weights: not where the folder is."""
    return {k: record.get(k) for k in ("settings", "episodes", "content_hash")}


def legacy_difference(data: dict, record: dict) -> str | None:
    """A run recorded before demo hashes (config.json "data" without "demos"): compare what it
    did record (episode count and stored image size); the hash cannot be compared. None when
    they agree."""
    if data.get("episodes") is not None and int(data["episodes"]) != record["episodes"]:
        return f"demos.episodes: {data['episodes']!r} there, {record['episodes']!r} here"
    size = (record.get("settings") or {}).get("image_size")
    for cam, stored in (data.get("stored_image_size") or {}).items():
        if size is not None and list(stored) != list(size):
            return f"demos.image_size ({cam}): {list(stored)!r} there, {list(size)!r} here"
    return None


def short(digest: str | None) -> str:
    return (digest or "not recorded")[:12]


def run_demos(config: dict) -> dict:
    """What a run's config.json says about its demos, for results: the recorded record, or for
    a run that predates it the recorded facts plus the hash recomputed from the manifest of the
    same folder (marked so), when that folder is still there and large enough."""
    data = config.get("data") or {}
    if "demos" in data:
        return {k: v for k, v in data["demos"].items() if k != "episode_hashes"}
    out = {"dir": data.get("data_dir"), "settings": None, "episodes": data.get("episodes"), "content_hash": None}
    try:
        folder, n = Path(data["data_dir"]), int(data["episodes"])
        if (folder / DEMO_MANIFEST).is_file():
            rec = demo_record(folder, n)
            out.update(settings=rec["settings"], content_hash=rec["content_hash"],
                       hash_source="recomputed from the folder's manifest (not recorded at training)")
    except (KeyError, TypeError, ValueError, OSError, DataError):
        pass
    return out
