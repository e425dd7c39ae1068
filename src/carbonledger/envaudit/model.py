"""The result of an environment audit, and its JSON form (``carbonledger.env_audit/1``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from carbonledger.errors import DataError

__all__ = ["LOWER_BOUND_NOTE", "SCHEMA", "DistUsage", "EnvAudit"]

SCHEMA = "carbonledger.env_audit/1"
LOWER_BOUND_NOTE = (
    "lower bound of what is unused: only modules imported and files mapped while the run "
    "was watched count; dynamic imports later, other entry points, data files read without "
    "an import, interpreters started with -I/-E/-S and forked workers that never exit "
    "normally are not seen"
)


@dataclass(frozen=True)
class DistUsage:
    """One installed distribution and whether the run used it."""

    name: str
    version: str
    installed_bytes: int | None
    used: bool
    evidence: tuple[str, ...] = ()  # "imported", "imported-by-name", "mapped"
    modules: int = 0  # modules of this distribution that were imported
    shared_objects: int = 0
    shared_object_bytes: int = 0
    mapped_shared_objects: int = 0
    mapped_shared_object_bytes: int = 0
    cuda: bool = False
    editable: bool = False
    requires: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "installed_bytes": self.installed_bytes,
            "used": self.used,
            "evidence": list(self.evidence),
            "modules": self.modules,
            "shared_objects": {
                "count": self.shared_objects,
                "installed_bytes": self.shared_object_bytes,
                "mapped": self.mapped_shared_objects,
                "mapped_bytes": self.mapped_shared_object_bytes,
            },
            "cuda": self.cuda,
            "editable": self.editable,
            "requires": list(self.requires),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DistUsage:
        so = data.get("shared_objects") or {}
        return cls(
            name=_str(data, "name"),
            version=str(data.get("version") or ""),
            installed_bytes=_opt_int(data.get("installed_bytes"), "installed_bytes"),
            used=bool(data.get("used")),
            evidence=tuple(str(x) for x in data.get("evidence") or ()),
            modules=_opt_int(data.get("modules"), "modules") or 0,
            shared_objects=_opt_int(so.get("count"), "shared_objects.count") or 0,
            shared_object_bytes=_opt_int(so.get("installed_bytes"), "shared_objects") or 0,
            mapped_shared_objects=_opt_int(so.get("mapped"), "shared_objects.mapped") or 0,
            mapped_shared_object_bytes=_opt_int(so.get("mapped_bytes"), "shared_objects") or 0,
            cuda=bool(data.get("cuda")),
            editable=bool(data.get("editable")),
            requires=tuple(str(x) for x in data.get("requires") or ()),
        )


@dataclass(frozen=True)
class EnvAudit:
    """What one run (or several) used of the environment it ran in."""

    site_dirs: tuple[str, ...]
    distributions: tuple[DistUsage, ...]
    mode: str  # "process-tree" (carbonledger run) | "in-process" (track) | "runs"
    python_processes: int = 0  # interpreters whose imports were seen
    mapped_processes: int = 0  # processes whose /proc/PID/maps were read
    modules_seen: int = 0
    modules_outside: int = 0  # imported modules that belong to no audited distribution
    import_time_s: float | None = None
    import_time_method: str = "unavailable"
    files: tuple[str, ...] = ()  # files the run touched (imported or mapped), for images
    files_truncated: bool = False
    warnings: tuple[str, ...] = field(default_factory=tuple)

    # -- totals --------------------------------------------------------------------
    @property
    def installed_bytes(self) -> int:
        return sum(d.installed_bytes or 0 for d in self.distributions)

    @property
    def used_bytes(self) -> int:
        return sum(d.installed_bytes or 0 for d in self.distributions if d.used)

    @property
    def unused_bytes(self) -> int:
        return self.installed_bytes - self.used_bytes

    @property
    def unused_share(self) -> float | None:
        total = self.installed_bytes
        return None if total <= 0 else self.unused_bytes / total

    @property
    def unused(self) -> tuple[DistUsage, ...]:
        return tuple(d for d in self.distributions if not d.used)

    @property
    def unknown_size(self) -> tuple[DistUsage, ...]:
        return tuple(d for d in self.distributions if d.installed_bytes is None)

    @property
    def unused_cuda(self) -> tuple[DistUsage, ...]:
        return tuple(d for d in self.unused if d.cuda)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "mode": self.mode,
            "lower_bound": True,
            "note": LOWER_BOUND_NOTE,
            "site_dirs": list(self.site_dirs),
            "totals": {
                "distributions": len(self.distributions),
                "used_distributions": sum(1 for d in self.distributions if d.used),
                "installed_bytes": self.installed_bytes,
                "used_bytes": self.used_bytes,
                "unused_bytes": self.unused_bytes,
                "unused_share": self.unused_share,
                "unknown_size": [d.name for d in self.unknown_size],
                "shared_object_bytes": sum(d.shared_object_bytes for d in self.distributions),
                "mapped_shared_object_bytes": sum(
                    d.mapped_shared_object_bytes for d in self.distributions
                ),
                "unused_cuda_bytes": sum(d.installed_bytes or 0 for d in self.unused_cuda),
            },
            "unused": [d.name for d in self.unused],
            "unused_cuda": [d.name for d in self.unused_cuda],
            "capture": {
                "python_processes": self.python_processes,
                "mapped_processes": self.mapped_processes,
                "modules_seen": self.modules_seen,
                "modules_outside": self.modules_outside,
            },
            "import_time": {"seconds": self.import_time_s, "method": self.import_time_method},
            "distributions": [d.to_dict() for d in self.distributions],
            "files": list(self.files),
            "files_truncated": self.files_truncated,
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EnvAudit:
        """Read an audit back (from the ledger); raises DataError on a malformed one."""
        if not isinstance(data, Mapping) or data.get("schema") != SCHEMA:
            raise DataError(f"env_audit: not a {SCHEMA} object")
        try:
            capture = data.get("capture") or {}
            timing = data.get("import_time") or {}
            seconds = timing.get("seconds")
            return cls(
                site_dirs=tuple(str(s) for s in data.get("site_dirs") or ()),
                distributions=tuple(DistUsage.from_dict(d) for d in _list(data, "distributions")),
                mode=str(data.get("mode") or "unknown"),
                python_processes=int(capture.get("python_processes") or 0),
                mapped_processes=int(capture.get("mapped_processes") or 0),
                modules_seen=int(capture.get("modules_seen") or 0),
                modules_outside=int(capture.get("modules_outside") or 0),
                import_time_s=None if seconds is None else float(seconds),
                import_time_method=str(timing.get("method") or "unavailable"),
                files=tuple(str(f) for f in data.get("files") or ()),
                files_truncated=bool(data.get("files_truncated")),
                warnings=tuple(str(w) for w in data.get("warnings") or ()),
            )
        except (TypeError, ValueError, AttributeError) as exc:
            raise DataError(f"env_audit: malformed field ({exc})") from None


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise DataError(f"env_audit: distribution field {key!r} missing")
    return value


def _opt_int(value: Any, key: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise DataError(f"env_audit: field {key!r} is not a byte count: {value!r}")
    return int(value)


def _list(data: Mapping[str, Any], key: str) -> Sequence[Mapping[str, Any]]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise DataError(f"env_audit: field {key!r} is not a list of objects")
    return value
