"""Files a process has mapped (``/proc/PID/maps``) and the processes below it.

Reads Linux ``/proc`` directly (no psutil): a handful of small text files per tick. Every
function returns what it could read; a process that vanished reads as nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

__all__ = ["descendants", "is_shared_object", "mapped_files", "parse_maps"]


def parse_maps(text: str) -> set[str]:
    """Absolute paths of the files mapped in a ``/proc/PID/maps`` text.

    Anonymous and pseudo mappings (``[heap]``, ``[vdso]``) are skipped; a deleted file
    (``/x.so (deleted)``) is kept under its old path.
    """
    paths: set[str] = set()
    for line in text.splitlines():
        parts = line.split(maxsplit=5)
        if len(parts) < 6:
            continue
        path = parts[5].strip()
        if not path.startswith("/"):
            continue
        if path.endswith(" (deleted)"):
            path = path[: -len(" (deleted)")]
        paths.add(path)
    return paths


def mapped_files(pid: int, proc_root: str = "/proc") -> set[str]:
    """The files process ``pid`` has mapped now; empty when it cannot be read."""
    try:
        with open(f"{proc_root}/{pid}/maps", encoding="utf-8", errors="surrogateescape") as fh:
            return parse_maps(fh.read())
    except (OSError, ValueError):
        return set()


def is_shared_object(path: str) -> bool:
    """``libx.so``, ``libx.so.12``, ``_C.cpython-311-x86_64-linux-gnu.so``."""
    name = path.rsplit("/", 1)[-1]
    return name.endswith(".so") or ".so." in name


def _children_from_task(pid: int, proc_root: str) -> list[int] | None:
    try:
        tasks = os.listdir(f"{proc_root}/{pid}/task")
    except OSError:
        return None
    found: list[int] = []
    for tid in tasks:
        try:
            with open(f"{proc_root}/{pid}/task/{tid}/children", encoding="ascii") as fh:
                found += [int(x) for x in fh.read().split()]
        except (OSError, ValueError):
            return None  # kernels without CONFIG_PROC_CHILDREN: scan every process instead
    return found


def _parent_map(proc_root: str) -> dict[int, int]:
    parents: dict[int, int] = {}
    try:
        names = os.listdir(proc_root)
    except OSError:
        return parents
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"{proc_root}/{name}/stat", encoding="ascii", errors="replace") as fh:
                stat = fh.read()
            parents[int(name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return parents


def descendants(root_pid: int, proc_root: str = "/proc") -> set[int]:
    """``root_pid`` and every process below it that is alive now."""
    seen = {root_pid}
    todo = [root_pid]
    parents: dict[int, int] | None = None
    while todo:
        pid = todo.pop()
        kids = _children_from_task(pid, proc_root)
        if kids is None:
            if parents is None:
                parents = _parent_map(proc_root)
            kids = [child for child, parent in parents.items() if parent == pid]
        for kid in kids:
            if kid not in seen:
                seen.add(kid)
                todo.append(kid)
    return seen


def mapped_by_tree(pids: Iterable[int], proc_root: str = "/proc") -> set[str]:
    """The union of the files every process in ``pids`` has mapped."""
    out: set[str] = set()
    for pid in pids:
        out |= mapped_files(pid, proc_root)
    return out
