"""SIGTERM and SIGINT end a long command with one line saying where it stopped.

The CLI installs `handle()` for both signals: it raises `Interrupted` (a KeyboardInterrupt, so
every existing clean-up path runs) carrying where the command was, taken from the stack of
`stage()` labels the long commands keep up to date (e.g. "run: train transfer_cube/act/seed0",
"at step 37 of 400, last checkpoint at step 35"). Multi-file writes that must land together
(a training checkpoint and its metrics) run inside `deferred()`: a signal that arrives there
takes effect when the block ends, so an interrupted command leaves nothing half-written.
Python swallows an exception raised where it cannot propagate (an at-fork hook while a
subprocess starts, a finalizer); the handler can land there, so such an Interrupted is kept
and raised again at the command's next progress note, before an atomic folder is committed,
or when the command returns. ctypes turns one raised while it converts a call's arguments into
its own ArgumentError; `converted()` finds the Interrupted in it.
"""
from __future__ import annotations

import contextlib
import ctypes
import signal
import sys
from typing import Iterator

_stages: list[list[str]] = []  # [label, detail] of each nested stage, outermost first
_deferring = 0
_pending: int | None = None
_swallowed: int | None = None  # a signal whose Interrupted Python swallowed (see the docstring)
_last: tuple[int, str] | None = None  # signal and place of the last Interrupted raised (for converted());
# not the exception itself, whose traceback would keep the interrupted frames alive
_previous_hook = sys.unraisablehook


class Interrupted(KeyboardInterrupt):
    """A signal ended the command; str() is where it was."""

    def __init__(self, signum: int, where: str):
        super().__init__(where)
        self.signum, self.where = signum, where

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # the shell's convention: 130 for SIGINT, 143 for SIGTERM


@contextlib.contextmanager
def stage(label: str) -> Iterator[None]:
    """A labelled part of the command (nested stages read outermost first)."""
    _stages.append([label, ""])
    try:
        yield
    finally:
        _stages.pop()


def note(detail: str) -> None:
    """How far the innermost stage has come (cheap: called once per training step)."""
    check()
    if _stages:
        _stages[-1][1] = detail


def check() -> None:
    """Raise a signal whose Interrupted was swallowed (outside a deferred block)."""
    global _swallowed
    if _swallowed is not None and not _deferring:
        signum, _swallowed = _swallowed, None
        _raise(signum)


def swallowed() -> Interrupted | None:
    """A swallowed signal not raised again by the time the command ended (and forget it)."""
    global _swallowed
    signum, _swallowed = _swallowed, None
    return None if signum is None else Interrupted(signum, where())


def _unraisable(unraisable) -> None:
    """sys.unraisablehook: keep a swallowed Interrupted; anything else as Python reports it."""
    global _swallowed
    if isinstance(unraisable.exc_value, Interrupted):
        _swallowed = unraisable.exc_value.signum
        return
    _previous_hook(unraisable)


def where() -> str:
    """e.g. "in train runs/x/seed0, at step 37 of 400, resuming from step 35" (nested: "in A > B, ...")."""
    if not _stages:
        return ""
    detail = _stages[-1][1]
    return "in " + " > ".join(label for label, _ in _stages) + (f", {detail}" if detail else "")


def _raise(signum: int) -> None:
    global _last
    _last = (signum, where())
    raise Interrupted(*_last)


def converted(exc: BaseException) -> Interrupted | None:
    """The Interrupted inside `exc` when C code turned it into its own error: ctypes reports an
    exception raised while it converts an argument (the handler can land there) as
    ArgumentError("argument 3: Interrupted: in eval ..."), dropping the original."""
    if _last is None or not isinstance(exc, ctypes.ArgumentError) or f"{Interrupted.__name__}:" not in str(exc):
        return None
    return Interrupted(*_last)


def handle(signum: int, frame=None) -> None:
    """The signal handler: raise Interrupted now, or when the deferred block ends."""
    global _pending
    if _deferring:
        _pending = signum
        return
    _raise(signum)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGTERM/SIGINT until the block's writes are all done."""
    global _deferring, _pending
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
        if not _deferring and _pending is not None:
            signum, _pending = _pending, None
            _raise(signum)


def install() -> None:
    """Route SIGTERM and SIGINT to handle() (the main thread only: signals go there)."""
    try:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, handle)
    except ValueError:  # not the main thread (an embedding program): its own handlers stay
        return
    global _previous_hook
    if sys.unraisablehook is not _unraisable:
        _previous_hook, sys.unraisablehook = sys.unraisablehook, _unraisable


def ignore_from_now() -> None:
    """The program's work is over and its exit status decided: ignore SIGTERM and SIGINT. When
    Python shuts down it gives signals with a Python handler their default action back, so one
    landing then killed a finished command (status -15, not its own); an ignored one stays ignored."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)


def ignore_in_worker() -> None:
    """In a worker process: the parent decides what a Ctrl-C (sent to the whole group) does, so
    the worker leaves SIGINT to it instead of dying with a traceback of its own."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def message(prog: str, exc: KeyboardInterrupt) -> str:
    """The one line an interrupted command prints."""
    if isinstance(exc, Interrupted):
        at = f" {exc.where}" if exc.where else ""
        return f"{prog}: interrupted by {exc.name}{at}; rerun the same command to resume"
    return f"{prog}: interrupted; rerun the same command to resume"
