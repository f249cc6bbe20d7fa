"""Write files atomically: to a temporary name in the same folder, then os.replace.

An interrupted run then never leaves a half-written CSV, JSON, plot or video behind, so
resuming can trust every file it finds.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from act_bench.errors import ActBenchError
from act_bench.storage import interrupts

_UMASK = os.umask(0)
os.umask(_UMASK)


class WriteError(ActBenchError):
    """A file could not be written (read-only folder, disk full, size limit); the old one is kept."""

    def __init__(self, path: Path, exc: OSError):
        why = exc.strerror or " ".join(str(exc).split()) or type(exc).__name__
        if exc.errno is None and "errno = 28" in str(exc):  # HDF5 reports ENOSPC in its own words
            why = "No space left on device"
        super().__init__(f"cannot write {path}: {why}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path` (same suffix, so writers infer the format);
    move it onto `path` when the block succeeds, delete it when it fails."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise WriteError(path, exc) from None
    tmp = Path(tmp)
    queued = False
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file normal permissions
        if _together is not None:  # renamed with the others when the together() block ends
            _together.append((tmp, path))
            queued = True
        else:
            os.replace(tmp, path)
    except OSError as exc:  # disk full, file too large, read-only: one line naming the file
        raise WriteError(path, exc) from None
    finally:
        if not queued and tmp.exists():
            tmp.unlink()


_together: list[tuple[Path, Path]] | None = None


@contextlib.contextmanager
def together() -> Iterator[None]:
    """Files written in the block land together: each is written under its temporary name as
    usual, and all are renamed, in the order written, when the block ends. A training checkpoint
    is several files, one naming the others' hashes; written one by one, a kill -9 between two
    of them (while the next is serialised) left a new file beside an old JSON that the rerun
    refused. Now the window is a few renames (microseconds); a failed block renames nothing."""
    global _together
    if _together is not None:  # nested: the outer block renames
        yield
        return
    _together = batch = []
    try:
        yield
        for tmp, path in batch:
            try:
                os.replace(tmp, path)
            except OSError as exc:
                raise WriteError(path, exc) from None
    finally:
        _together = None
        for tmp, _ in batch:
            if tmp.exists():
                tmp.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside `path`; when the block succeeds it replaces `path` (an
    existing one is removed first), when it fails it is deleted: no half-written folder."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    except OSError as exc:
        raise WriteError(path, exc) from None
    try:
        yield tmp
        interrupts.check()  # a signal swallowed while the folder was written: do not commit it
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except OSError as exc:
        raise WriteError(path, exc) from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def remove_stale_temps(folder: str | os.PathLike) -> None:
    """Delete what a killed writer left in `folder`: the hidden `.NAME.XXXX.tmp*` files and
    folders of atomic_path and atomic_dir (a kill -9 skips their clean-up). Call it when a job
    starts on a folder it owns; the finished files are untouched."""
    folder = Path(folder)
    if not folder.is_dir():
        return
    for p in folder.iterdir():
        if p.name.startswith(".") and ".tmp" in p.name:
            try:
                shutil.rmtree(p) if p.is_dir() else p.unlink()
            except OSError as exc:
                raise WriteError(p, exc) from None


def write_text(path: str | os.PathLike, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_json(path: str | os.PathLike, obj) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def write_csv(path: str | os.PathLike, frame) -> Path:
    """Write a pandas DataFrame as CSV (no index)."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    return Path(path)
