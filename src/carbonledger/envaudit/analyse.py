"""Pure: what was observed × what is installed → an :class:`~.model.EnvAudit`.

A distribution is *used* when a module imported from one of its files, or a file it
installed that a process mapped (a shared object loaded with ``dlopen``), was seen. A
module whose file lies outside every site folder (an editable install) is matched by its
top-level name instead. Namespace packages (no file of their own) prove nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from carbonledger.envaudit.distributions import InstalledDist
from carbonledger.envaudit.model import DistUsage, EnvAudit
from carbonledger.envaudit.observe import MAX_FILES, Snapshot

__all__ = ["analyse", "is_cuda_wheel"]

_SITE_MARKERS = ("/site-packages/", "/dist-packages/")


def is_cuda_wheel(key: str) -> bool:
    """``nvidia-cublas-cu12``, ``cupy-cuda12x``, ``jax-cuda12-plugin``: CUDA payloads."""
    return key.startswith("nvidia-") or "cuda" in key


def _real(path: str, realpath: Callable[[str], str]) -> str:
    try:
        return realpath(path)
    except (OSError, ValueError):
        return os.path.normpath(path)


def analyse(
    snap: Snapshot,
    dists: Sequence[InstalledDist],
    *,
    mode: str,
    site_dirs: Sequence[str] = (),
    import_time_method: str = "unavailable",
    realpath: Callable[[str], str] = os.path.realpath,
) -> EnvAudit:
    owner: dict[str, int] = {}
    for i, dist in enumerate(dists):
        for path in dist.files:
            owner.setdefault(path, i)
    by_name: dict[str, list[int]] = {}
    for i, dist in enumerate(dists):
        for top in dist.top_level:
            by_name.setdefault(top, []).append(i)

    evidence: list[set[str]] = [set() for _ in dists]
    module_count = [0] * len(dists)
    mapped_so: list[set[str]] = [set() for _ in dists]
    outside = 0
    touched: set[str] = set()
    for path, names in snap.modules.items():
        real = _real(path, realpath)
        touched.add(real)
        found = owner.get(real, owner.get(os.path.normpath(path)))
        if found is not None:
            evidence[found].add("imported")
            module_count[found] += len(names)
            continue
        if any(marker in real + "/" for marker in _SITE_MARKERS):
            outside += len(names)  # another environment's file: never matched by name
            continue
        matched = False
        for name in names:
            for j in by_name.get(name.split(".", 1)[0], ()):
                evidence[j].add("imported-by-name")
                module_count[j] += 1
                matched = True
        if not matched:
            outside += len(names)
    for path in snap.mapped:
        real = _real(path, realpath)
        touched.add(real)
        k = owner.get(real, owner.get(path))
        if k is not None:
            evidence[k].add("mapped")
            mapped_so[k].add(real)

    usages = []
    for i, dist in enumerate(dists):
        so_sizes = dict(dist.shared_objects)
        usages.append(
            DistUsage(
                name=dist.name,
                version=dist.version,
                installed_bytes=dist.installed_bytes,
                used=bool(evidence[i]),
                evidence=tuple(sorted(evidence[i])),
                modules=module_count[i],
                shared_objects=len(so_sizes),
                shared_object_bytes=sum(so_sizes.values()),
                mapped_shared_objects=len(mapped_so[i] & so_sizes.keys()),
                mapped_shared_object_bytes=sum(so_sizes[p] for p in mapped_so[i] if p in so_sizes),
                cuda=is_cuda_wheel(dist.key),
                editable=dist.editable,
                requires=dist.requires,
            )
        )
    files = sorted(touched)
    warnings = list(snap.warnings)
    if snap.python_processes == 0:
        warnings.append(
            "no Python interpreter of the run reported its imports (not Python, started with "
            "-I/-E/-S, or killed before exit): only mapped shared objects count"
        )
    return EnvAudit(
        site_dirs=tuple(site_dirs) or tuple(dict.fromkeys(d.site_dir for d in dists)),
        distributions=tuple(sorted(usages, key=lambda u: (-(u.installed_bytes or 0), u.name))),
        mode=mode,
        python_processes=snap.python_processes,
        mapped_processes=snap.mapped_processes,
        modules_seen=sum(len(n) for n in snap.modules.values()),
        modules_outside=outside,
        import_time_s=snap.import_time_s,
        import_time_method=import_time_method if snap.import_time_s is not None else "unavailable",
        files=tuple(files[:MAX_FILES]),
        files_truncated=len(files) > MAX_FILES,
        warnings=tuple(warnings),
    )
