"""Shares of the machine's energy that belong to a tracked process tree (scope "process").

CPU: the tree's CPU time over the machine's busy CPU time in the same interval (children
and grandchildren included; the time of children that exit between two samples is
recovered from the parent's ``children_user``/``children_system``). RAM: the tree's
resident memory over the machine's used memory. Both are clamped to [0, 1].
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import psutil

__all__ = ["ProcessTree", "Shares", "machine_busy_cpu_s"]

log = logging.getLogger(__name__)

_IDLE_FIELDS = ("idle", "iowait", "steal", "guest", "guest_nice")


def machine_busy_cpu_s() -> float:
    """CPU seconds all cores spent busy since boot (idle, iowait, steal and guest excluded)."""
    from carbonledger import procfs

    times = procfs.cpu_times()
    return float(sum(v for name, v in times.items() if name not in _IDLE_FIELDS))


@dataclass(frozen=True)
class Shares:
    """The tracked tree's shares over the last interval; None when unknown."""

    cpu: float | None
    ram: float | None


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


class ProcessTree:
    """Follows a process and all its descendants and measures their shares per interval."""

    def __init__(
        self,
        root_pid: int,
        *,
        busy_cpu_s: Callable[[], float] = machine_busy_cpu_s,
    ) -> None:
        self.root_pid = root_pid
        self._busy_cpu_s = busy_cpu_s
        self._root = psutil.Process(root_pid)
        self._last_cpu: dict[int, float] = {}
        self._last_children_total = 0.0
        self._last_busy = 0.0
        self._procs: dict[int, psutil.Process] = {}
        self.prime()

    def pids(self) -> set[int]:
        """The pids of the tree now (for per-process GPU attribution)."""
        return {p.pid for p in self._walk()}

    def _walk(self) -> list[psutil.Process]:
        try:
            procs = [self._root, *self._root.children(recursive=True)]
        except psutil.Error:
            return []
        # keep Process objects stable across calls (psutil caches create_time per object)
        stable = []
        for p in procs:
            known = self._procs.get(p.pid)
            if known is None or known != p:
                self._procs[p.pid] = p
                known = p
            stable.append(known)
        return stable

    def _cpu_and_rss(self) -> tuple[dict[int, float], float, float]:
        cpu: dict[int, float] = {}
        rss = 0.0
        children_total = self._last_children_total
        for proc in self._walk():
            try:
                with proc.oneshot():
                    t = proc.cpu_times()
                    cpu[proc.pid] = t.user + t.system
                    rss += proc.memory_info().rss
                    if proc.pid == self.root_pid:
                        children_total = t.children_user + t.children_system
            except psutil.Error:
                continue
        return cpu, rss, children_total

    def prime(self) -> None:
        cpu, _, children_total = self._cpu_and_rss()
        self._last_cpu = cpu
        self._last_children_total = children_total
        self._last_busy = self._busy_cpu_s()

    def shares(self) -> Shares:
        """Shares since the previous call (or since construction)."""
        cpu, rss, children_total = self._cpu_and_rss()
        busy = self._busy_cpu_s()
        tree_delta = 0.0
        for pid, total in cpu.items():
            tree_delta += max(0.0, total - self._last_cpu.get(pid, 0.0))
        # children reaped since last time: their whole time moved into children_*;
        # what we had already counted from them is subtracted.
        vanished_counted = sum(v for pid, v in self._last_cpu.items() if pid not in cpu)
        tree_delta += max(0.0, (children_total - self._last_children_total) - vanished_counted)
        busy_delta = busy - self._last_busy
        self._last_cpu, self._last_children_total, self._last_busy = cpu, children_total, busy
        self._procs = {pid: p for pid, p in self._procs.items() if pid in cpu}

        cpu_share: float | None
        if busy_delta > 0:
            cpu_share = _clamp(tree_delta / busy_delta)
        else:
            cpu_share = 0.0 if tree_delta == 0 else 1.0
        ram_share: float | None
        try:
            vm = psutil.virtual_memory()
            used = vm.total - vm.available
            ram_share = _clamp(rss / used) if used > 0 else None
        except (psutil.Error, OSError):
            ram_share = None
        return Shares(cpu=cpu_share, ram=ram_share)
