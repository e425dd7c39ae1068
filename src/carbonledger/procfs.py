"""Machine facts read straight from Linux ``/proc`` (fast, no import cost), with psutil
as the fallback elsewhere. The numbers and field names are psutil's, so either path
gives the same results.
"""

from __future__ import annotations

import functools
import os
from typing import Any

__all__ = ["cpu_times", "memory_total_bytes", "pid_exists", "process_create_time"]

_CPU_FIELDS = (
    "user",
    "nice",
    "system",
    "idle",
    "iowait",
    "irq",
    "softirq",
    "steal",
    "guest",
    "guest_nice",
)


@functools.lru_cache(maxsize=1)
def _clock_ticks() -> int:
    return int(os.sysconf("SC_CLK_TCK"))


def _psutil() -> Any:
    import psutil

    return psutil


def cpu_times() -> dict[str, float]:
    """Seconds all CPUs spent in each state since boot (``psutil.cpu_times()`` fields)."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            first = fh.readline().split()
        if first[0] != "cpu":
            raise ValueError("unexpected /proc/stat")
        ticks = _clock_ticks()
        return {name: int(v) / ticks for name, v in zip(_CPU_FIELDS, first[1:], strict=False)}
    except (OSError, ValueError, IndexError):
        return dict(_psutil().cpu_times()._asdict())


def memory_total_bytes() -> int:
    """Installed memory in bytes (``psutil.virtual_memory().total``)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return int(_psutil().virtual_memory().total)


@functools.lru_cache(maxsize=1)
def _boot_time() -> float | None:
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("btime "):
                    return float(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def process_create_time(pid: int) -> float:
    """When process ``pid`` started, in unix seconds (``psutil.Process(pid).create_time()``)."""
    boot = _boot_time()
    if boot is not None:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
                stat = fh.read()
            # the command name may hold spaces and parentheses: fields follow the last ")"
            fields = stat[stat.rindex(")") + 2 :].split()
            return boot + int(fields[19]) / _clock_ticks()
        except (OSError, ValueError, IndexError):
            pass
    return float(_psutil().Process(pid).create_time())


def pid_exists(pid: int) -> bool:
    """Whether a process ``pid`` exists (``psutil.pid_exists``)."""
    return bool(_psutil().pid_exists(pid))
