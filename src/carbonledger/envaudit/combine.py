"""Pure: one environment against several recorded runs. A distribution counts as used
when any run used a distribution of the same (normalised) name."""

from __future__ import annotations

from collections.abc import Sequence

from carbonledger.envaudit.analyse import is_cuda_wheel
from carbonledger.envaudit.distributions import InstalledDist, normalize_name
from carbonledger.envaudit.model import DistUsage, EnvAudit
from carbonledger.envaudit.observe import MAX_FILES

__all__ = ["combine_runs"]


def combine_runs(
    dists: Sequence[InstalledDist], audits: Sequence[EnvAudit], site_dirs: Sequence[str]
) -> EnvAudit:
    used: dict[str, set[str]] = {}
    modules: dict[str, int] = {}
    mapped: dict[str, tuple[int, int]] = {}
    for audit in audits:
        for d in audit.distributions:
            if not d.used:
                continue
            key = normalize_name(d.name)
            used.setdefault(key, set()).update(d.evidence)
            modules[key] = max(modules.get(key, 0), d.modules)
            count, size = mapped.get(key, (0, 0))
            mapped[key] = (
                max(count, d.mapped_shared_objects),
                max(size, d.mapped_shared_object_bytes),
            )
    usages = []
    for dist in dists:
        so = dict(dist.shared_objects)
        key = dist.key
        usages.append(
            DistUsage(
                name=dist.name,
                version=dist.version,
                installed_bytes=dist.installed_bytes,
                used=key in used,
                evidence=tuple(sorted(used.get(key, ()))),
                modules=modules.get(key, 0),
                shared_objects=len(so),
                shared_object_bytes=sum(so.values()),
                mapped_shared_objects=min(mapped.get(key, (0, 0))[0], len(so)),
                mapped_shared_object_bytes=min(mapped.get(key, (0, 0))[1], sum(so.values())),
                cuda=is_cuda_wheel(key),
                editable=dist.editable,
                requires=dist.requires,
            )
        )
    files = sorted({f for a in audits for f in a.files})
    warnings = sorted({w for a in audits for w in a.warnings})
    if not audits:
        warnings.insert(0, "no recorded runs to compare against: nothing counts as used")
    times = [a.import_time_s for a in audits if a.import_time_s is not None]
    return EnvAudit(
        site_dirs=tuple(site_dirs),
        distributions=tuple(sorted(usages, key=lambda u: (-(u.installed_bytes or 0), u.name))),
        mode="runs",
        python_processes=sum(a.python_processes for a in audits),
        mapped_processes=sum(a.mapped_processes for a in audits),
        modules_seen=sum(a.modules_seen for a in audits),
        modules_outside=sum(a.modules_outside for a in audits),
        import_time_s=max(times) if times else None,
        import_time_method="the longest of the runs" if times else "unavailable",
        files=tuple(files[:MAX_FILES]),
        files_truncated=len(files) > MAX_FILES or any(a.files_truncated for a in audits),
        warnings=tuple(warnings),
    )
