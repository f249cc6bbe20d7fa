"""A demo folder is read whole or refused: its episode files must be exactly those its manifest
lists. Every reader of a demo folder (train, inspect, verify, run, export-lerobot) lists its
episodes through `episode_paths`, which calls `check_listing`.

- manifest.json present: a listed file that is missing, or an episode_*.hdf5 it does not list,
  is refused with one line naming them and the command that repairs the folder.
- settings.json but no manifest.json: generate-demos started and did not finish (it writes the
  manifest last); refused with the command that finishes it.
- neither: a folder made by hand (or by an older version): read as it is.
"""
from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

from act_bench.errors import DataError
from act_bench.storage.layout import DEMO_MANIFEST, DEMO_SETTINGS, damaged, read_json_record


def listed_files(manifest: dict, path: Path) -> list[str]:
    """The episode files a manifest lists (older manifests give only a count)."""
    files = manifest.get("files")
    if files is None:
        try:
            files = [f"episode_{i}.hdf5" for i in range(int(manifest["episodes"]))]
        except (KeyError, TypeError, ValueError):
            raise damaged(path, "lists neither files nor an episode count") from None
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise damaged(path, "its file list is not a list of names")
    return files


def repair_command(folder: Path, meta: dict, episodes: int | None = None) -> str:
    """The command that rewrites the folder whole, from what it says about itself."""
    source = str(meta.get("source") or "")
    if source.startswith("lerobot:"):
        return f"act-bench import-lerobot {shlex.quote(source[len('lerobot:'):])} {shlex.quote(str(folder))} --force"
    episodes = episodes or meta.get("episodes") or "N"
    try:
        h, w = (int(v) for v in meta["image_size"])
        cams = ",".join(meta.get("cameras") or []) or "none"
        args = [f"--task {meta['task']}", f"--episodes {episodes}", f"--image-size {h}x{w}", f"--cameras {cams}",
                f"--seed {int(meta.get('seed', 0))}"]
    except (KeyError, TypeError, ValueError):
        return f"act-bench generate-demos ... --out {shlex.quote(str(folder))} (with the settings it was recorded with)"
    if meta.get("noise"):
        args.append(f"--noise {meta['noise']}")
    return f"act-bench generate-demos {' '.join(args)} --out {shlex.quote(str(folder))}"


def _names(items) -> str:
    items = sorted(items, key=lambda n: (len(n), n))
    return ", ".join(items[:4]) + (f" and {len(items) - 4} more" if len(items) > 4 else "")


def check_listing(folder: Path, on_disk: list[Path]) -> None:
    """DataError unless the folder's episode files are exactly the ones its manifest lists."""
    folder = Path(folder)
    manifest = read_json_record(folder / DEMO_MANIFEST)
    if manifest is None:
        settings = read_json_record(folder / DEMO_SETTINGS)
        if settings is not None:
            raise DataError(f"{folder}: the recording did not finish (no {DEMO_MANIFEST}); finish it with "
                            f"`{repair_command(folder, settings)}` (N: the episodes wanted)")
        return
    listed = listed_files(manifest, folder / DEMO_MANIFEST)
    present = {p.name for p in on_disk}
    missing = [n for n in listed if n not in present]
    extra = [n for n in present if n not in set(listed)]
    if missing:
        also = f" ({_names(extra)} not listed either)" if extra else ""
        raise DataError(f"{folder} is incomplete: {_names(missing)} listed in {DEMO_MANIFEST} but missing{also}; "
                        f"record them again with `{repair_command(folder, manifest)}`")
    if extra:
        upto = max(int(n[len("episode_"):-len(".hdf5")]) for n in extra) + 1
        raise DataError(f"{folder} holds episodes its {DEMO_MANIFEST} does not list: {_names(extra)}; delete them, "
                        f"or take them in with `{repair_command(folder, manifest, max(upto, len(listed)))}`")


_EPISODE_RE = re.compile(r"^episode_(\d+)\.hdf5$")


def episode_paths(data_dir: str | os.PathLike, max_episodes: int = 0) -> list[Path]:
    """episode_{i}.hdf5 files of a demo folder, in index order (the first max_episodes if > 0)."""
    folder = Path(data_dir)
    if not folder.is_dir():
        raise DataError(f"demo folder {folder} does not exist (record demos with act-bench generate-demos)")
    found = sorted((int(m.group(1)), p) for p in folder.iterdir() if (m := _EPISODE_RE.match(p.name)))
    paths = [p for _, p in found]
    check_listing(folder, paths)  # read whole or refused
    if not paths:
        raise DataError(f"demo folder {folder} has no episode_*.hdf5 files")
    return paths[:max_episodes] if max_episodes > 0 else paths
