"""The machine a result was produced on: CPU model, a hash of its instruction-set flags, the
thread count and the library versions. Float results differ across CPU models, thread counts
and library versions (README: "What reproduces where"), so every result carries these."""
from __future__ import annotations

import functools
import hashlib
import os
import platform
from act_bench.runtime.versions import package_versions

MEMORY_HEADROOM = 0.8  # what a job may plan to hold of the memory free when it starts


@functools.lru_cache(maxsize=1)
def cpu() -> dict[str, str]:
    """{"cpu": model name, "cpu_flags": sha256 of the sorted flags (16 hex)}; from /proc/cpuinfo."""
    model, flags = _cpuinfo()
    isa = hashlib.sha256(" ".join(sorted(flags.split())).encode()).hexdigest()[:16] if flags else "unknown"
    return {"cpu": model or "unknown", "cpu_flags": isa}


def native_bf16() -> bool | None:
    """Whether the CPU computes bf16 natively (x86 AVX-512 BF16 or AMX, ARM BF16): elsewhere
    torch emulates it and bf16 training is slower than fp32. None where unknown (no /proc/cpuinfo)."""
    flags = set(_cpuinfo()[1].split())
    if not flags:
        return None
    return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})


@functools.lru_cache(maxsize=1)
def _cpuinfo() -> tuple[str, str]:
    """(model name, flags) from /proc/cpuinfo ("" where unknown)."""
    model, flags = platform.processor() or platform.machine(), ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and model in ("", platform.processor(), platform.machine()):
                    model = value.strip()
                elif key in ("flags", "Features") and not flags:
                    flags = value
    except OSError:
        pass
    return model, flags


def record(threads: int | None) -> dict:
    """What to store beside a result: CPU, thread count and versions."""
    return {**cpu(), "threads": threads, "versions": package_versions()}


def memory_shortfall(nbytes: int) -> str | None:
    """None when nbytes fit in MEMORY_HEADROOM of the free memory (or it is unknown), else the
    reason, e.g. "need 9.1 GiB in memory but only 7.5 GiB is free"."""
    available = available_memory()
    if available is None or nbytes <= MEMORY_HEADROOM * available:
        return None
    return f"need {nbytes / 2**30:.1f} GiB in memory but only {available / 2**30:.1f} GiB is free"


def available_memory() -> int | None:
    try:  # MemAvailable counts reclaimable page cache; sysconf's free pages do not
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
