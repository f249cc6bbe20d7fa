"""The machine a result was produced on: CPU model, a hash of its instruction-set flags, the
thread count and the library versions. Float results differ across CPU models, thread counts
and library versions (README: "What reproduces where"), so every result carries these."""
from __future__ import annotations

import functools
import hashlib
import platform


@functools.lru_cache(maxsize=1)
def cpu() -> dict[str, str]:
    """{"cpu": model name, "cpu_flags": sha256 of the sorted flags (16 hex)}; from /proc/cpuinfo."""
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
    isa = hashlib.sha256(" ".join(sorted(flags.split())).encode()).hexdigest()[:16] if flags else "unknown"
    return {"cpu": model or "unknown", "cpu_flags": isa}


def record(threads: int | None) -> dict:
    """What to store beside a result: CPU, thread count and versions."""
    from act_bench.versions import package_versions

    return {**cpu(), "threads": threads, "versions": package_versions()}
