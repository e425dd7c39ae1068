"""What a run used: the modules its interpreters imported, the files its processes mapped,
and the time spent importing. An :class:`Observed` collects these from the current
process, from hook reports of child interpreters, and from ``/proc/PID/maps`` reads."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from carbonledger.envaudit.procmaps import mapped_files

__all__ = ["Observed", "Snapshot", "module_files"]

MAX_MODULES = 200_000
MAX_FILES = 200_000


def module_files(modules: Mapping[str, Any]) -> dict[str, str]:
    """``{name: file}`` of the modules (``sys.modules``) loaded from a file."""
    out: dict[str, str] = {}
    for name, module in list(modules.items()):
        path = getattr(module, "__file__", None)
        if isinstance(name, str) and isinstance(path, str) and path:
            out[name] = path
    return out


@dataclass(frozen=True)
class Snapshot:
    """An immutable copy of what was observed."""

    modules: dict[str, frozenset[str]]  # file -> module names (a file may back several)
    mapped: frozenset[str]
    python_processes: int
    mapped_processes: int
    import_time_s: float | None
    site_dirs: tuple[str, ...]
    warnings: tuple[str, ...] = field(default_factory=tuple)


class Observed:
    """A thread-safe accumulator of observations (the sampler thread adds maps)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._modules: dict[str, set[str]] = {}
        self._mapped: set[str] = set()
        self._python = 0
        self._mapped_pids: set[int] = set()
        self._import_s: float | None = None
        self._site_dirs: list[str] = []
        self._warnings: list[str] = []

    def add_modules(self, modules: Mapping[str, str]) -> None:
        with self._lock:
            self._python += 1
            for name, path in modules.items():
                if len(self._modules) >= MAX_MODULES:
                    self._warn("too many module files; the rest were not recorded")
                    break
                self._modules.setdefault(path, set()).add(name)

    def add_maps(self, pid: int, paths: Iterable[str]) -> None:
        paths = set(paths)
        with self._lock:
            if paths:
                self._mapped_pids.add(pid)
            new = paths - self._mapped
            room = MAX_FILES - len(self._mapped)
            if len(new) > room:
                self._warn("too many mapped files; the rest were not recorded")
                new = set(sorted(new)[: max(room, 0)])
            self._mapped |= new

    def add_import_time(self, seconds: float) -> None:
        with self._lock:
            self._import_s = (self._import_s or 0.0) + seconds

    def add_site_dirs(self, dirs: Iterable[str]) -> None:
        with self._lock:
            for d in dirs:
                if d not in self._site_dirs:
                    self._site_dirs.append(d)

    def warn(self, text: str) -> None:
        with self._lock:
            self._warn(text)

    def _warn(self, text: str) -> None:
        if text not in self._warnings:
            self._warnings.append(text)

    def poll_maps(self, pids: Iterable[int], proc_root: str = "/proc") -> None:
        """Read ``/proc/PID/maps`` of each pid (a process that is gone reads as nothing)."""
        for pid in pids:
            self.add_maps(pid, mapped_files(pid, proc_root))

    def add_current_process(self) -> None:
        """This interpreter's modules and maps, and the site folders on its path."""
        from carbonledger.envaudit.distributions import current_site_dirs

        self.add_modules(module_files(sys.modules))
        self.add_maps(os.getpid(), mapped_files(os.getpid()))
        self.add_site_dirs(current_site_dirs())

    def add_report(self, report: Mapping[str, Any]) -> None:
        """A child interpreter's hook report (see :mod:`carbonledger.envaudit.hook`)."""
        modules = report.get("modules")
        if isinstance(modules, dict):
            self.add_modules({str(k): v for k, v in modules.items() if isinstance(v, str) and v})
        maps = report.get("maps")
        pid = report.get("pid")
        if isinstance(maps, list) and isinstance(pid, int):
            self.add_maps(pid, (p for p in maps if isinstance(p, str) and p.startswith("/")))
        seconds = report.get("import_time_s")
        if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and seconds >= 0:
            self.add_import_time(float(seconds))
        dirs = report.get("site_dirs")
        if isinstance(dirs, list):
            self.add_site_dirs(
                os.path.realpath(d) for d in dirs if isinstance(d, str) and os.path.isdir(d)
            )

    def snapshot(self) -> Snapshot:
        with self._lock:
            return Snapshot(
                modules={path: frozenset(names) for path, names in self._modules.items()},
                mapped=frozenset(self._mapped),
                python_processes=self._python,
                mapped_processes=len(self._mapped_pids),
                import_time_s=self._import_s,
                site_dirs=tuple(self._site_dirs),
                warnings=tuple(self._warnings),
            )
