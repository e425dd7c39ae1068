"""The sensor registry: which kinds exist, and discovery of what this machine offers.

Built-in kinds, probed in this order: ``rapl``, ``nvml``, ``amdsmi``; then the models,
``cpu_model`` (fallback for CPU) and ``ram_model`` (fallback for RAM). A fallback is probed
only when no sensor already found covers its component: RAPL with package and DRAM
domains needs neither model; RAPL with packages only brings in ``ram_model``; no RAPL at
all brings in both. A factory that raises becomes an :class:`Absent` with its message.

:func:`describe` and :func:`describe_text` render a :class:`Discovery` for
``carbonledger devices [--json]``.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from carbonledger.errors import ConfigError
from carbonledger.records import Component, DeviceInfo, Method
from carbonledger.sensors import _presence
from carbonledger.sensors.base import Absent, ProbeContext, Sensor, SensorFactory

__all__ = [
    "Discovery",
    "Entry",
    "describe",
    "describe_text",
    "discover",
    "register",
    "registered",
    "sensor_contract_problem",
    "unregister",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Entry:
    """A registered sensor kind."""

    kind: str
    factory: SensorFactory
    fallback_for: Component | None = None


@dataclass(frozen=True)
class Discovery:
    """What :func:`discover` found: open sensors, and the kinds that found nothing."""

    sensors: tuple[Sensor, ...]
    absent: tuple[Absent, ...]

    @property
    def devices(self) -> tuple[DeviceInfo, ...]:
        return tuple(d for s in self.sensors for d in s.devices())

    def close(self) -> None:
        """Close every sensor (for callers that only wanted to look)."""
        for sensor in self.sensors:
            try:
                sensor.close()
            except Exception as exc:
                log.debug("closing sensor %s failed: %s", sensor.kind, exc)


_ENTRIES: list[Entry] = []


def register(kind: str, factory: SensorFactory, *, fallback_for: Component | None = None) -> None:
    """Add a sensor kind (or replace the factory of an existing one, keeping its place).

    ``fallback_for`` makes it a model: probed after the others, and only when nothing
    found so far covers that component.
    """
    entry = Entry(kind, factory, fallback_for)
    for i, existing in enumerate(_ENTRIES):
        if existing.kind == kind:
            _ENTRIES[i] = entry
            return
    _ENTRIES.append(entry)


def unregister(kind: str) -> None:
    """Remove a sensor kind; unknown kinds are ignored."""
    _ENTRIES[:] = [e for e in _ENTRIES if e.kind != kind]


def registered() -> tuple[Entry, ...]:
    """The registered kinds, in probing order: built-ins, then third-party sensors declared
    through the ``carbonledger.sensors`` entry point group (see :mod:`carbonledger.plugins`),
    then fallbacks (models)."""
    entries = [*_ENTRIES, *_third_party_entries()]
    return tuple(
        [e for e in entries if e.fallback_for is None]
        + [e for e in entries if e.fallback_for is not None]
    )


def _third_party_entries() -> list[Entry]:
    """Entry-point sensors, each loaded only when it is probed. A factory may carry a
    ``fallback_for`` attribute (``"cpu"``, ``"ram"``, ...) to be probed as a model."""
    from carbonledger import plugins

    taken = {e.kind for e in _ENTRIES}
    entries = []
    for name, plugin in plugins.available("carbonledger.sensors").items():
        if plugin.origin == "builtin" or name in taken:
            continue
        entries.append(Entry(name, _plugin_factory(plugin), _fallback_of(plugin)))
    return entries


def _fallback_of(plugin: Any) -> Component | None:
    """The component a third-party model stands in for: the factory's ``fallback_for``."""
    try:
        factory = plugin.load()
    except ConfigError:
        return None
    value = getattr(factory, "fallback_for", None)
    if value is None:
        return None
    try:
        return Component(str(value))
    except ValueError:
        log.warning("sensor plug-in %s: unknown fallback_for %r ignored", plugin.name, value)
        return None


def _plugin_factory(plugin: Any) -> SensorFactory:
    def probe(ctx: ProbeContext) -> Sensor | Absent:
        from carbonledger.plugins import callable_check

        factory = plugin.load()
        problem = callable_check(factory)
        if problem is not None:
            return Absent(plugin.name, f"plug-in from {plugin.origin} {problem}")
        found = factory(ctx)
        if isinstance(found, Absent):
            return found
        problem = sensor_contract_problem(found)
        if problem is not None:
            return Absent(plugin.name, f"plug-in from {plugin.origin}: {problem}")
        return found  # type: ignore[no-any-return]

    probe.__qualname__ = f"{plugin.name}.probe"
    return probe


def sensor_contract_problem(sensor: object) -> str | None:
    """Why ``sensor`` breaks the :class:`Sensor` contract, or None when it keeps it."""
    if not isinstance(getattr(sensor, "kind", None), str):
        return "has no text attribute 'kind'"
    for method in ("devices", "read", "close"):
        if not callable(getattr(sensor, method, None)):
            return f"has no method {method}()"
    return None


def _builtin(module: str, *, no_driver: Callable[[], Absent | None] | None = None) -> SensorFactory:
    """The ``probe`` of a built-in sensor module, imported only when it is probed; a GPU
    kind whose driver is absent is not imported at all."""

    def probe(ctx: ProbeContext) -> Sensor | Absent:
        absent = no_driver() if no_driver is not None else None
        if absent is not None:
            return absent
        module_object = importlib.import_module(f"carbonledger.sensors.{module}")
        found: Sensor | Absent = module_object.probe(ctx)
        return found

    probe.__qualname__ = f"{module}.probe"
    return probe


register("rapl", _builtin("rapl"))


def _no_nvidia_driver() -> Absent | None:
    if _presence.nvidia_driver_present():
        return None
    return Absent(
        "nvml",
        _presence.NVIDIA_NO_DRIVER,
        fix=_presence.NVIDIA_NO_DRIVER_FIX,
        component=Component.GPU,
    )


def _no_amd_driver() -> Absent | None:
    if _presence.amd_driver_present():
        return None
    return Absent(
        "amdsmi", _presence.AMD_NO_DRIVER, fix=_presence.AMD_NO_DRIVER_FIX, component=Component.GPU
    )


register("nvml", _builtin("nvml", no_driver=_no_nvidia_driver))
register("amdsmi", _builtin("amdsmi", no_driver=_no_amd_driver))
register("cpu_model", _builtin("cpu_model"), fallback_for=Component.CPU)
register("ram_model", _builtin("ram_model"), fallback_for=Component.RAM)


def _probe(entry: Entry, ctx: ProbeContext) -> Sensor | Absent:
    try:
        result = entry.factory(ctx)
    except Exception as exc:
        log.debug("sensor %s probe failed", entry.kind, exc_info=True)
        return Absent(entry.kind, f"probe failed: {exc}", component=entry.fallback_for)
    if isinstance(result, Absent):
        return result
    try:
        devices = list(result.devices())
    except Exception as exc:
        devices, error = [], f"listing devices failed: {exc}"
    else:
        error = "found no devices"
    if not devices:
        with contextlib.suppress(Exception):
            result.close()
        return Absent(entry.kind, error, component=entry.fallback_for)
    return result


def discover(ctx: ProbeContext, only: Sequence[str] | None = None) -> Discovery:
    """Probe every registered kind (or those in ``only``) and open what is present.

    Raises :class:`ConfigError` when ``only`` names a kind that is not registered.
    """
    entries = registered()
    if only is not None:
        known = {e.kind for e in entries}
        unknown = [kind for kind in only if kind not in known]
        if unknown:
            raise ConfigError(
                f"sensors: unknown sensor kind {unknown[0]!r}; known: {', '.join(sorted(known))}"
            )
        entries = tuple(e for e in entries if e.kind in only)
    sensors: list[Sensor] = []
    absent: list[Absent] = []
    covered: set[Component] = set()
    for entry in entries:
        if entry.fallback_for is not None and entry.fallback_for in covered:
            continue
        result = _probe(entry, ctx)
        if isinstance(result, Absent):
            absent.append(result)
            continue
        sensors.append(result)
        covered.update(d.component for d in result.devices())
    return Discovery(tuple(sensors), tuple(absent))


# -- rendering -------------------------------------------------------------------------------
def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (Component, Method)):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    return str(value)


def describe(discovery: Discovery) -> dict[str, Any]:
    """A JSON-ready account of ``discovery`` (the shape of ``carbonledger devices --json``):

    ``{"devices": [{device_id, component, name, method, source, uncertainty_rel,
    details}], "absent": [{kind, component, reason, fix}]}``
    """
    devices = [
        {
            "device_id": d.device_id,
            "component": d.component.value,
            "name": d.name,
            "method": d.method.value,
            "source": d.source,
            "uncertainty_rel": _jsonable(d.uncertainty_rel),
            "details": _jsonable(d.details),
        }
        for d in discovery.devices
    ]
    absent = [
        {
            "kind": a.kind,
            "component": a.component.value if a.component is not None else None,
            "reason": a.reason,
            "fix": a.fix,
        }
        for a in discovery.absent
    ]
    return {"devices": devices, "absent": absent}


def _how(device: DeviceInfo) -> str:
    how = device.method.value
    if device.uncertainty_rel is not None and math.isfinite(device.uncertainty_rel):
        how += f" (±{device.uncertainty_rel:.0%})"
    return how


def describe_text(discovery: Discovery) -> str:
    """A readable account of ``discovery``: a table of devices (device, component, how
    measured, source), then each absent sensor with why and how to fix it."""
    lines: list[str] = []
    devices = discovery.devices
    if devices:
        header = ("DEVICE", "COMPONENT", "HOW MEASURED", "SOURCE")
        rows = [(d.device_id, d.component.value, _how(d), d.source) for d in devices]
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
        for row in [header, *rows]:
            cells = [row[i].ljust(widths[i]) for i in range(3)]
            lines.append("  ".join([*cells, row[3]]).rstrip())
        named = [d for d in devices if d.name and d.name != d.device_id]
        if named:
            lines.append("")
            for d in named:
                lines.append(f"{d.device_id}: {d.name}")
                if d.details.get("note"):
                    lines.append(f"    note: {d.details['note']}")
    else:
        lines.append("No energy source found: nothing can be measured or modelled.")
    if discovery.absent:
        lines.append("")
        lines.append("Not available:")
        for a in discovery.absent:
            what = f"{a.kind} ({a.component.value})" if a.component is not None else a.kind
            lines.append(f"  {what}: {a.reason}")
            if a.fix:
                lines.append(f"    fix: {a.fix}")
    return "\n".join(lines) + "\n"
