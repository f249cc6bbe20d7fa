"""One writer per output folder: `with hold(folder): ...`.

The lock is fcntl.flock on FOLDER/.act-bench.lock: the kernel drops it when its process ends,
however it ends (kill -9 included), so a killed job never leaves a folder stuck. The holder
writes its pid, host, command and start time into the file, and a second process on the same
folder stops at once with one line naming them. The file is removed when the holder finishes;
a process that locked a file just removed checks the inode and locks the new one instead.
A folder this process cannot write into is not locked: no process of ours writes there either.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Iterator

from act_bench.errors import ActBenchError
from act_bench.storage.layout import FOLDER_LOCK as LOCK_NAME

_held: dict[Path, int] = {}  # folders this process holds -> nesting depth (re-entrant)
_UNWRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM)


class FolderInUse(ActBenchError):
    """Another process is writing into the folder."""


def lock_path(folder: str | os.PathLike, sibling: bool = False) -> Path:
    """FOLDER/.act-bench.lock, or beside FOLDER (.NAME.act-bench.lock) for a folder that is
    replaced whole (export-lerobot) and so cannot hold its own lock file."""
    folder = Path(folder)
    return folder.parent / f".{folder.name}{LOCK_NAME}" if sibling else folder / LOCK_NAME


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text())
        since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(info["since"])))
        return f"pid {info['pid']} on {info['host']} (`{info['command']}`, since {since})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process (its record is not written yet)"


def _missing_parents(folder: Path) -> list[Path]:
    """The folders mkdir(parents=True) would create for `folder`, innermost first."""
    out = []
    while not folder.exists() and folder != folder.parent:
        out.append(folder)
        folder = folder.parent
    return out


def _acquire(path: Path) -> int | None:
    """An fd holding the lock on `path`; None when the folder cannot be written."""
    while True:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            if exc.errno in _UNWRITABLE:
                return None
            raise
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            folder = path.parent if path.name == LOCK_NAME else path.parent / path.name[1:-len(LOCK_NAME)]
            raise FolderInUse(f"{folder} is in use by {_holder(path)}; wait for it to finish or stop it "
                              "(a process that died holds nothing)") from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # the holder removed that file as we opened it: lock the new one


def _record(fd: int) -> None:
    info = {"pid": os.getpid(), "host": socket.gethostname(), "command": " ".join(["act-bench", *sys.argv[1:]]),
            "since": time.time()}
    data = json.dumps(info).encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)


@contextlib.contextmanager
def hold(folder: str | os.PathLike, sibling: bool = False) -> Iterator[None]:
    """Be the only writer of `folder` for the block (FolderInUse when another process is)."""
    path = lock_path(folder, sibling).absolute()
    if path in _held:
        _held[path] += 1
        try:
            yield
        finally:
            _held[path] -= 1
        return
    created = _missing_parents(path.parent)
    fd = _acquire(path)
    if fd is None:
        yield
        return
    _held[path] = 1
    try:
        _record(fd)
        yield
    finally:
        del _held[path]
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(fd)
        for folder in created:  # a command that failed before writing leaves no empty folder
            with contextlib.suppress(OSError):
                folder.rmdir()
