"""One plug-in mechanism for every family: sensors, ledgers, providers, formats, exporters.

Built-ins and third-party packages are found the same way, by name, through Python entry
points (``importlib.metadata``) in these groups::

    carbonledger.sensors     a sensor factory ``(ProbeContext) -> Sensor | Absent``
    carbonledger.ledgers     a ledger factory ``(url: str) -> Ledger``, named by URL scheme
    carbonledger.providers   a provider factory ``(environ) -> IntensitySource``
    carbonledger.formats     a report renderer ``(ReportInput) -> str``
    carbonledger.exporters   a sink factory ``(**options) -> RunSink``

A third-party package declares, in its ``pyproject.toml``::

    [project.entry-points."carbonledger.sensors"]
    mysensor = "mypackage.sensor:probe"

Nothing is imported until a plug-in is asked for by name (or listed for use); each object
loaded is checked against its family's contract before it is used. Built-ins are listed
here as ``module:attribute`` strings, so listing them imports nothing either, and a
third-party entry point cannot replace a built-in of the same name.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from carbonledger.errors import ConfigError

__all__ = ["GROUPS", "Plugin", "available", "load", "plugin_names", "refresh"]

log = logging.getLogger(__name__)

GROUPS = (
    "carbonledger.sensors",
    "carbonledger.ledgers",
    "carbonledger.providers",
    "carbonledger.formats",
    "carbonledger.exporters",
)

# Built-in plug-ins by group: name -> "module:attribute". Sensors keep their own probing
# order in the sensor registry; they are listed here so that names are unique across
# built-ins and entry points.
_BUILTINS: dict[str, dict[str, str]] = {
    "carbonledger.sensors": {
        "rapl": "carbonledger.sensors.rapl:probe",
        "nvml": "carbonledger.sensors.nvml:probe",
        "amdsmi": "carbonledger.sensors.amdsmi:probe",
        "cpu_model": "carbonledger.sensors.cpu_model:probe",
        "ram_model": "carbonledger.sensors.ram_model:probe",
    },
    "carbonledger.ledgers": {
        "sqlite": "carbonledger.store.sqlite:open_sqlite_url",
        "memory": "carbonledger.store.memory:open_memory_url",
        **dict.fromkeys(
            ("postgresql", "postgres"), "carbonledger.store.postgres:open_postgres_url"
        ),
    },
    "carbonledger.providers": {},
    "carbonledger.formats": {
        "text": "carbonledger.report.text:render",
        "json": "carbonledger.report.json_format:render",
        "csv": "carbonledger.report.csv_format:render",
        "html": "carbonledger.report.html:render",
        "markdown": "carbonledger.report.markdown:render",
        "statement": "carbonledger.report.statement:render",
    },
    "carbonledger.exporters": {
        "prometheus": "carbonledger.exporters.prometheus:shared_exporter",
        "otel": "carbonledger.exporters.otel:shared_exporter",
        "mlflow": "carbonledger.integrations.mlflow:MlflowSink",
        "wandb": "carbonledger.integrations.wandb:WandbSink",
    },
}


@dataclass(frozen=True)
class Plugin:
    """A plug-in known by name: where it comes from (``builtin`` or the distribution that
    declares it) and the ``module:attribute`` it loads."""

    group: str
    name: str
    value: str
    origin: str

    def load(self) -> Any:
        module_name, _, attribute = self.value.partition(":")
        try:
            obj: Any = importlib.import_module(module_name)
            for part in attribute.split(".") if attribute else ():
                obj = getattr(obj, part)
        except ImportError as exc:
            raise ConfigError(
                f"{self.group} plug-in {self.name!r} ({self.origin}) cannot be imported: {exc}"
            ) from None
        except AttributeError:
            raise ConfigError(
                f"{self.group} plug-in {self.name!r} ({self.origin}): {self.value} does not exist"
            ) from None
        return obj


def _check_group(group: str) -> None:
    if group not in GROUPS:
        raise ConfigError(f"unknown plug-in group {group!r}; groups: {', '.join(GROUPS)}")


# Listing entry points reads every installed distribution's metadata (tens of ms in a
# large environment): once per process and group, for as long as sys.path is the same.
_SCANNED: dict[tuple[int, tuple[str, ...], str], list[Plugin]] = {}


def refresh() -> None:
    """Forget the entry points listed so far (after installing a plug-in in-process)."""
    _SCANNED.clear()


def _entry_points(group: str) -> list[Plugin]:
    from importlib import metadata

    key = (id(metadata.entry_points), tuple(sys.path), group)
    found = _SCANNED.get(key)
    if found is None:
        found = _SCANNED[key] = _scan_entry_points(group)
    return list(found)


def _scan_entry_points(group: str) -> list[Plugin]:
    try:
        from importlib.metadata import entry_points

        found = entry_points(group=group)
    except Exception as exc:  # a broken distribution must not break carbonledger
        log.warning("cannot list %s entry points: %r", group, exc)
        return []
    plugins = []
    for ep in found:
        dist = getattr(ep, "dist", None)
        origin = f"{dist.name} {dist.version}" if dist is not None else "entry point"
        plugins.append(Plugin(group, ep.name, ep.value, origin))
    return plugins


def available(group: str) -> dict[str, Plugin]:
    """Every plug-in of ``group`` by name: built-ins first, then entry points (a third-party
    name that clashes with a built-in is ignored, with a warning)."""
    _check_group(group)
    found = {
        name: Plugin(group, name, value, "builtin")
        for name, value in _BUILTINS.get(group, {}).items()
    }
    for plugin in _entry_points(group):
        existing = found.get(plugin.name)
        if existing is not None:
            if existing.value != plugin.value:
                log.warning(
                    "%s plug-in %r from %s is ignored: the name is taken by %s",
                    group,
                    plugin.name,
                    plugin.origin,
                    existing.origin,
                )
            continue
        found[plugin.name] = plugin
    return found


def plugin_names(group: str) -> list[str]:
    """The names ``group`` offers, built-ins first."""
    return list(available(group))


def load(
    group: str,
    name: str,
    *,
    check: Callable[[Any], str | None] | None = None,
    plugins: Mapping[str, Plugin] | None = None,
) -> Any:
    """The object plug-in ``name`` of ``group`` provides. ``check`` returns a reason when the
    object breaks its family's contract (then ConfigError names the plug-in and the reason).
    Unknown names are a ConfigError that lists the known ones."""
    known = plugins if plugins is not None else available(group)
    plugin = known.get(name)
    if plugin is None:
        kind = group.rsplit(".", 1)[-1]
        raise ConfigError(
            f"unknown {kind[:-1] if kind.endswith('s') else kind} {name!r}; "
            f"known: {', '.join(sorted(known)) or 'none'}"
        )
    obj = plugin.load()
    if check is not None:
        problem = check(obj)
        if problem is not None:
            raise ConfigError(f"{group} plug-in {name!r} ({plugin.origin}) {problem}")
    return obj


def callable_check(obj: Any) -> str | None:
    """The contract of factories and renderers: something to call."""
    return None if callable(obj) else "is not callable"
