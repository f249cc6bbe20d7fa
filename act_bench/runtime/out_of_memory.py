"""Out of memory, said in one line: which step and size ran out, and what to lower.

Memory runs out in three ways: Python's MemoryError (numpy's too), torch's CPU allocator
(a RuntimeError "DefaultCPUAllocator: can't allocate memory") and the GPU's
(torch.cuda.OutOfMemoryError, "MPS backend out of memory"). `explained` turns each into
an OutOfMemoryError naming what was running and what to lower; the command's folder is left as
it was (a training resumes from its last checkpoint, an evaluation from its last episode).
"""
from __future__ import annotations

import contextlib
import sys
from typing import Callable, Iterator

from act_bench.errors import ActBenchError

# what torch's allocators say (CPU, CUDA, MPS, XPU) when an allocation fails
_MESSAGES = ("can't allocate memory", "out of memory", "failed to allocate")


class OutOfMemoryError(ActBenchError):
    """An allocation failed; the message names the size to lower."""


def is_out_of_memory(exc: BaseException) -> bool:
    """MemoryError, torch.cuda.OutOfMemoryError, or a torch allocator's RuntimeError."""
    if isinstance(exc, MemoryError):
        return True
    torch = sys.modules.get("torch")  # never imported here for a command that does not use it
    if torch is not None and isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and any(m in str(exc) for m in _MESSAGES)


def short(exc: BaseException) -> str:
    """The allocator's own words, on one line and cut short (torch's CUDA message is a paragraph)."""
    text = " ".join(str(exc).split())
    if "DefaultCPUAllocator" in text:  # "[enforce fail at alloc_cpu.cpp:N] DefaultCPUAllocator: can't ..."
        text = text[text.index("DefaultCPUAllocator"):]
    text = text.split(". ")[0]
    return text if len(text) <= 160 else text[:157] + "..."


@contextlib.contextmanager
def explained(doing: Callable[[], str], lower: str, after: Callable[[], str] | None = None) -> Iterator[None]:
    """Raise OutOfMemoryError("out of memory {doing()} ({allocator}): lower {lower}; {after()}") for
    an allocation failing inside; doing and after are called then, so they can name the step."""
    try:
        yield
    except Exception as exc:
        if not is_out_of_memory(exc) or isinstance(exc, OutOfMemoryError):
            raise
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()  # what the failed step held, so the message's advice can be tried
        tail = f"; {after()}" if after is not None else ""
        raise OutOfMemoryError(f"out of memory {doing()} ({short(exc)}): lower {lower}{tail}") from None
