"""The distributions installed in an environment and the bytes each one installed.

Sizes come from each distribution's own ``RECORD`` (the ``size`` column; files listed
without a size, such as ``RECORD`` itself and byte-code, are measured with ``lstat``). A
distribution with no ``RECORD`` has an unknown size (``None``), never 0.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from carbonledger.envaudit.procmaps import is_shared_object
from carbonledger.errors import DataError

__all__ = [
    "InstalledDist",
    "current_site_dirs",
    "find_site_dirs",
    "normalize_name",
    "scan",
]

_SITE_NAMES = ("site-packages", "dist-packages")
_MODULE_SUFFIX = re.compile(r"(\.cpython-[^.]*|\.abi3|\.cp\d+[^.]*)?\.(py|pyc|so|pyd)$")


def normalize_name(name: str) -> str:
    """PEP 503 name: ``Foo_Bar.baz`` → ``foo-bar-baz``."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class InstalledDist:
    """One installed distribution, as its metadata describes it."""

    name: str
    version: str
    site_dir: str
    installed_bytes: int | None  # None: no RECORD, size unknown
    files: frozenset[str] = field(default_factory=frozenset)  # absolute, normalised
    shared_objects: tuple[tuple[str, int], ...] = ()  # (path, bytes)
    top_level: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    editable: bool = False

    @property
    def key(self) -> str:
        return normalize_name(self.name)


def _is_site_dir(path: Path) -> bool:
    return path.name in _SITE_NAMES and path.is_dir()


def current_site_dirs() -> list[str]:
    """The site-packages folders on this interpreter's ``sys.path``."""
    out: list[str] = []
    for entry in sys.path:
        if entry and _is_site_dir(Path(entry)) and os.path.realpath(entry) not in out:
            out.append(os.path.realpath(entry))
    return out


def find_site_dirs(env: str | os.PathLike[str]) -> list[str]:
    """The site-packages folders of ``env``: a virtual environment, a prefix, or a
    site-packages folder itself. Raises DataError when there is none."""
    root = Path(env)
    if not root.is_dir():
        raise DataError(f"--env {env}: not a folder")
    if _is_site_dir(root) or any(root.glob("*.dist-info")):
        return [os.path.realpath(root)]
    found = [
        os.path.realpath(p)
        for pattern in ("lib/python*/*-packages", "lib64/python*/*-packages", "Lib/site-packages")
        for p in sorted(root.glob(pattern))
        if _is_site_dir(p)
    ]
    if not found:
        raise DataError(f"--env {env}: no site-packages folder under it")
    return list(dict.fromkeys(found))


def _top_level_from_files(rel_paths: Iterable[str]) -> list[str]:
    names: list[str] = []
    for rel in rel_paths:
        parts = rel.replace("\\", "/").split("/")
        first = parts[0]
        if not first or first in ("..", "__pycache__") or first.endswith((".dist-info", ".pth")):
            continue
        if first.endswith(".egg-info") or first.endswith(".data"):
            continue
        if len(parts) == 1:
            match = _MODULE_SUFFIX.search(first)
            if match is None:
                continue
            first = first[: match.start()]
        if first.isidentifier() and first not in names:
            names.append(first)
    return names


def _editable(dist: metadata.Distribution) -> bool:
    text = dist.read_text("direct_url.json")
    if not text:
        return False
    try:
        info = json.loads(text)
    except ValueError:
        return False
    return bool(isinstance(info, dict) and (info.get("dir_info") or {}).get("editable"))


def _size(path: str, recorded: int | None) -> int:
    if recorded is not None and recorded >= 0:
        return recorded
    try:
        return os.lstat(path).st_size
    except OSError:
        return 0


def _one(dist: metadata.Distribution, site_dir: str) -> InstalledDist | None:
    name = dist.metadata["Name"] if dist.metadata is not None else None
    if not name:
        return None
    files = dist.files
    installed: int | None = None
    paths: set[str] = set()
    shared: list[tuple[str, int]] = []
    rel_paths: list[str] = []
    if files is not None:
        installed = 0
        for f in files:
            rel = str(f)
            path = os.path.normpath(os.path.join(site_dir, rel))
            if path in paths:
                continue
            paths.add(path)
            rel_paths.append(rel)
            size = _size(path, f.size)
            installed += size
            if is_shared_object(path):
                shared.append((path, size))
    top_text = dist.read_text("top_level.txt")
    if top_text:
        top = [t.strip() for t in top_text.splitlines() if t.strip()]
    else:
        top = _top_level_from_files(rel_paths)
    return InstalledDist(
        name=str(name),
        version=str(dist.version or ""),
        site_dir=site_dir,
        installed_bytes=installed,
        files=frozenset(paths),
        shared_objects=tuple(sorted(shared)),
        top_level=tuple(top),
        requires=tuple(dist.requires or ()),
        editable=_editable(dist),
    )


def scan(site_dirs: Sequence[str]) -> list[InstalledDist]:
    """Every distribution in ``site_dirs``, first folder first (as imports see them)."""
    out: list[InstalledDist] = []
    seen: set[tuple[str, str]] = set()
    reals = list(dict.fromkeys(os.path.realpath(d) for d in site_dirs))
    for real in reals:
        for dist in metadata.distributions(path=[real]):
            one = _one(dist, real)
            if one is None or (one.key, real) in seen:
                continue
            seen.add((one.key, real))
            out.append(one)
    out.sort(key=lambda d: (reals.index(d.site_dir), d.key))
    return out
