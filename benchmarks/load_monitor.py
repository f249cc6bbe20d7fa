"""How busy the rest of the machine was during a measurement, so each timing can say so."""
from __future__ import annotations

import os
import time


class LoadMonitor:
    """CPU time used by other processes (in cores) between start() and stop(), from /proc/stat."""

    def start(self) -> None:
        self._t0, self._busy0, self._own0 = time.perf_counter(), _busy_seconds(), _own_seconds()

    def stop(self) -> float | None:
        busy = _busy_seconds()
        if busy is None or self._busy0 is None:
            return None
        wall = time.perf_counter() - self._t0
        return max(0.0, (busy - self._busy0) - (_own_seconds() - self._own0)) / max(wall, 1e-9)


def _busy_seconds() -> float | None:
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    """This process's CPU time and its finished children's (e.g. env workers, joined by then)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system
