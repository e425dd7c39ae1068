"""CPU package and DRAM energy from Linux RAPL, read through the powercap sysfs tree.

Zones live in ``<sysfs_root>/class/powercap/intel-rapl:N[:M]`` (and ``intel-rapl-mmio:N``),
each with ``name``, ``energy_uj`` and ``max_energy_range_uj``. Which zones count:

* top-level ``package-N`` (or ``package-N-die-D``) → ``rapl:package-N``, component CPU;
* ``dram``, usually the sub-zone ``intel-rapl:N:M`` of package N (→ ``rapl:dram-N``), on some
  machines a top-level zone (numbered in order among the top-level DRAM zones);
* not added: the package's other sub-zones (``core``, ``uncore``: already inside the
  package) and ``psys`` (the platform domain, which contains the package);
* a zone with the same identity as one already found (two ``package-0`` zones, or
  ``intel-rapl-mmio:0`` mirroring ``intel-rapl:0``) is the same counter: it is read once,
  from the ``intel-rapl`` zone, and listed under ``mirrors`` in the device's details.

Counters are turned into cumulative energy since the sensor was opened by differences
(:func:`~carbonledger.sampling.integrate.counter_delta`), allowing one wrap-around at
``max_energy_range_uj`` per interval.

Invalid zones. A zone whose ``max_energy_range_uj`` is zero, negative or garbage, or whose counter
is above its range when the sensor is opened, reports data no working counter can have: it
is left out (with a warning), and when no zone is left the sensor is absent, so the CPU and
RAM models take over. An unreadable ``max_energy_range_uj`` is only an unknown range.

Failed reads. A missing file, an unreadable or garbage value (not an integer, or above
``max_energy_range_uj``) gives ``energy_j=None`` for that read, logged once, and the last
good counter value is kept. The next good read is differenced against that last good
value: the hardware counter kept running while we could not read it, so the difference
is the energy over the whole gap, exact as long as the counter wrapped at most once. Two
guards keep a bad read from adding energy that did not happen:

* a step whose mean power would exceed :data:`MAX_PLAUSIBLE_POWER_W` (a reset, or a
  garbage value that looked valid) is not counted: the sensor re-bases on the new value
  and reports ``None`` for that read, so that interval is unknown rather than huge;
* a gap longer than the counter's shortest wrap period (``max_energy_range_uj`` at
  :data:`MAX_PLAUSIBLE_POWER_W`) may hide whole wraps: its difference is still counted,
  as a lower bound, and a warning says so.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from carbonledger.records import Component, DeviceInfo, Method, Reading
from carbonledger.sampling.integrate import counter_delta
from carbonledger.sensors import _sysfs
from carbonledger.sensors.base import Absent, ProbeContext
from carbonledger.units import uj_to_j

__all__ = [
    "DRAM_UNCERTAINTY_REL",
    "MAX_PLAUSIBLE_POWER_W",
    "PACKAGE_UNCERTAINTY_REL",
    "RaplDomain",
    "RaplScan",
    "RaplSensor",
    "permission_fix",
    "probe",
    "scan_powercap",
]

log = logging.getLogger(__name__)

KIND = "rapl"
# Relative uncertainty of RAPL energy against plug/shunt measurements: package within a few
# per cent on Haswell and later (Khan et al. 2018, "RAPL in Action", ACM TOMPECS 3(2);
# Hackenberg et al. 2015, IPDPSW), DRAM less certain and platform-dependent (Desrochers et
# al. 2016, "A Validation of DRAM RAPL Power Measurements", MEMSYS). See
# docs/methodology/sensors.md.
PACKAGE_UNCERTAINTY_REL = 0.05
DRAM_UNCERTAINTY_REL = 0.10
# No CPU package or DRAM domain draws this much; a larger mean power between two reads
# means the counter was reset or misread, not that energy was used.
MAX_PLAUSIBLE_POWER_W = 2000.0
_MIN_DT_S = 1e-3

_ZONE_RE = re.compile(r"^(intel-rapl|intel-rapl-mmio)((?::\d+)+)$")
_PACKAGE_RE = re.compile(r"^package-(\d+(?:-die-\d+)?)$")
_INTERFACE_ORDER = {"intel-rapl": 0, "intel-rapl-mmio": 1}


@dataclass(frozen=True)
class RaplDomain:
    """One counter to read: a package or DRAM zone."""

    device_id: str
    component: Component
    name: str  # the zone's ``name`` file: "package-0", "dram"
    zone: str  # the zone's directory: "intel-rapl:0:2"
    path: Path
    max_energy_range_uj: int | None
    mirrors: tuple[str, ...] = ()

    @property
    def energy_path(self) -> Path:
        return self.path / "energy_uj"

    def info(self) -> DeviceInfo:
        if self.component is Component.CPU:
            label = f"CPU package {self.device_id.removeprefix('rapl:package-')} (RAPL)"
            uncertainty = PACKAGE_UNCERTAINTY_REL
        else:
            label = f"DRAM of package {self.device_id.removeprefix('rapl:dram-')} (RAPL)"
            uncertainty = DRAM_UNCERTAINTY_REL
        return DeviceInfo(
            device_id=self.device_id,
            component=self.component,
            name=label,
            method=Method.MEASURED,
            source=self.device_id,
            uncertainty_rel=uncertainty,
            details={
                "zone": self.zone,
                "path": str(self.path),
                "max_energy_range_uj": self.max_energy_range_uj,
                "mirrors": list(self.mirrors),
            },
        )


@dataclass(frozen=True)
class RaplScan:
    """What a scan of the powercap tree found: the counters to read and what was left out."""

    powercap: Path
    domains: tuple[RaplDomain, ...]
    skipped: tuple[str, ...] = ()
    invalid: tuple[str, ...] = ()  # zones left out because their sysfs data is invalid


@dataclass
class _Zone:
    interface: str
    indices: tuple[int, ...]
    path: Path
    name: str

    @property
    def zone(self) -> str:
        return self.interface + "".join(f":{i}" for i in self.indices)


def _list_zones(powercap: Path, skipped: list[str]) -> list[_Zone]:
    zones = []
    for entry in powercap.iterdir():
        match = _ZONE_RE.match(entry.name)
        if match is None:
            continue
        indices = tuple(int(part) for part in match.group(2).split(":")[1:])
        try:
            name = _sysfs.read_text(entry / "name")
        except OSError as exc:
            skipped.append(f"{entry.name}: unreadable name ({exc.strerror or exc})")
            continue
        zones.append(_Zone(match.group(1), indices, entry, name))
    zones.sort(key=lambda z: (_INTERFACE_ORDER[z.interface], z.indices))
    return zones


def _read_range(path: Path) -> tuple[int | None, str | None]:
    """The zone's counter range, or ``None`` when unreadable; a problem when it is invalid.

    A range of zero or less, or one that is not an integer, is not a counter range the
    kernel reports for a working zone: such a zone's counter cannot be trusted, so the zone
    is left out.
    """
    try:
        value = _sysfs.read_int(path / "max_energy_range_uj")
    except OSError:
        return None, None
    except ValueError as exc:
        return None, f"invalid max_energy_range_uj ({exc})"
    if value <= 0:
        return None, f"invalid max_energy_range_uj {value} (must be positive)"
    return value, None


def scan_powercap(sysfs_root: Path) -> RaplScan | None:
    """The RAPL counters under ``sysfs_root``; ``None`` when there is no powercap tree."""
    powercap = sysfs_root / "class" / "powercap"
    if not powercap.is_dir():
        return None
    skipped: list[str] = []
    zones = _list_zones(powercap, skipped)
    by_key = {(z.interface, z.indices): z for z in zones}
    found: dict[str, tuple[_Zone, Component, list[str]]] = {}
    top_level_dram: list[_Zone] = []

    def add(device_id: str, zone: _Zone, component: Component) -> None:
        if device_id in found:
            found[device_id][2].append(zone.zone)
        else:
            found[device_id] = (zone, component, [])

    for z in zones:
        if len(z.indices) == 1:
            package = _PACKAGE_RE.match(z.name)
            if package is not None:
                add(f"rapl:package-{package.group(1)}", z, Component.CPU)
            elif z.name == "dram":
                top_level_dram.append(z)
            elif z.name == "psys":
                skipped.append(f"{z.zone} (psys): platform domain, contains the package")
            else:
                skipped.append(f"{z.zone} ({z.name}): not a package or DRAM domain")
            continue
        parent = by_key.get((z.interface, z.indices[:1]))
        parent_package = _PACKAGE_RE.match(parent.name) if parent is not None else None
        if z.name == "dram" and parent_package is not None:
            add(f"rapl:dram-{parent_package.group(1)}", z, Component.RAM)
        elif z.name == "dram":
            top_level_dram.append(z)
        else:
            where = parent.name if parent is not None else "its parent"
            skipped.append(f"{z.zone} ({z.name}): inside {where}, counted there")

    # DRAM zones with no package parent: numbered in order, after the known ones.
    # An intel-rapl-mmio zone mirrors the intel-rapl zone with the same index.
    ordinal = 0
    by_index: dict[int, str] = {}
    for z in top_level_dram:
        twin = by_index.get(z.indices[0])
        if twin is not None and z.interface != "intel-rapl":
            add(twin, z, Component.RAM)
            continue
        while f"rapl:dram-{ordinal}" in found:
            ordinal += 1
        device_id = f"rapl:dram-{ordinal}"
        add(device_id, z, Component.RAM)
        by_index.setdefault(z.indices[0], device_id)

    domains: list[RaplDomain] = []
    invalid: list[str] = []
    for device_id, (zone, component, mirrors) in sorted(
        found.items(), key=lambda item: (item[1][1] is not Component.CPU, item[0])
    ):
        max_range, problem = _read_range(zone.path)
        if problem is not None:
            invalid.append(f"{zone.zone} ({zone.name}): {problem}")
            continue
        domains.append(
            RaplDomain(
                device_id=device_id,
                component=component,
                name=zone.name,
                zone=zone.zone,
                path=zone.path,
                max_energy_range_uj=max_range,
                mirrors=tuple(mirrors),
            )
        )
    return RaplScan(
        powercap=powercap, domains=tuple(domains), skipped=tuple(skipped), invalid=tuple(invalid)
    )


def permission_fix(powercap: Path) -> str:
    """Exact commands that let a non-root user read the RAPL counters."""
    return (
        f"until reboot: sudo chmod o+r {powercap}/*/energy_uj ; "
        "lasting, for the members of a group 'powercap': "
        "sudo groupadd -f powercap && sudo usermod -aG powercap $USER && "
        'echo \'SUBSYSTEM=="powercap", ACTION=="add", '
        'RUN+="/bin/chgrp powercap /sys%p/energy_uj", '
        'RUN+="/bin/chmod g+r /sys%p/energy_uj"\' '
        "| sudo tee /etc/udev/rules.d/60-powercap.rules && "
        "sudo udevadm trigger --subsystem-match=powercap --action=add "
        "(then log in again). The counters are root-only since Linux 5.10 because of the "
        "PLATYPUS side channel (CVE-2020-8694): grant access only to users you trust."
    )


@dataclass
class _State:
    last_uj: int
    last_t: float
    energy_j: float = 0.0
    failing: bool = False
    logged: set[str] = field(default_factory=set)


class RaplSensor:
    """Cumulative energy of RAPL package and DRAM domains since the sensor was opened."""

    kind = KIND

    def __init__(
        self,
        domains: Sequence[RaplDomain],
        baselines_uj: dict[str, int],
        *,
        clock: Callable[[], float] = time.monotonic,
        max_power_w: float = MAX_PLAUSIBLE_POWER_W,
    ) -> None:
        self._domains = list(domains)
        self._infos = [d.info() for d in self._domains]
        self._clock = clock
        self._max_power_w = max_power_w
        now = clock()
        self._state = {d.device_id: _State(baselines_uj[d.device_id], now) for d in self._domains}
        self.closed = False

    def devices(self) -> Sequence[DeviceInfo]:
        return list(self._infos)

    def read(self) -> list[Reading]:
        return [self._read_one(d) for d in self._domains]

    def close(self) -> None:
        self.closed = True

    # -- internals -------------------------------------------------------------------
    def _log_once(self, state: _State, key: str, message: str) -> None:
        if key not in state.logged:
            state.logged.add(key)
            log.warning("%s", message)

    def _failed(self, domain: RaplDomain, state: _State, key: str, message: str) -> Reading:
        state.failing = True
        self._log_once(state, key, f"{domain.device_id}: {message}; reading reported as missing")
        return Reading(domain.device_id, None)

    def _read_one(self, domain: RaplDomain) -> Reading:
        state = self._state[domain.device_id]
        path = domain.energy_path
        try:
            raw = _sysfs.read_int(path)
        except OSError as exc:
            return self._failed(domain, state, "oserror", f"cannot read {path}: {exc}")
        except ValueError as exc:
            return self._failed(domain, state, "garbage", str(exc))
        max_range = domain.max_energy_range_uj
        if max_range is not None and raw > max_range:
            return self._failed(
                domain, state, "range", f"{path}: {raw} exceeds max_energy_range_uj {max_range}"
            )
        t = self._clock()
        dt = t - state.last_t
        try:
            delta_j = uj_to_j(counter_delta(state.last_uj, raw, max_range))
        except ValueError:
            delta_j = float("inf")
        if delta_j > self._max_power_w * max(dt, _MIN_DT_S):
            self._log_once(
                state,
                "jump",
                f"{domain.device_id}: counter jumped from {state.last_uj} to {raw} µJ in "
                f"{dt:.3g} s (reset or misread); that interval is not counted",
            )
            state.last_uj, state.last_t, state.failing = raw, t, False
            return Reading(domain.device_id, None, lost=True)
        lower_bound = False
        if max_range is not None:
            wrap_period_s = uj_to_j(max_range) / self._max_power_w
            if dt > wrap_period_s:
                # failed reads, a stalled sampler or a suspended process: whole wraps may hide
                lower_bound = True
                self._log_once(
                    state,
                    "long-gap",
                    f"{domain.device_id}: no good read for {dt:.0f} s, longer than the counter's "
                    f"shortest wrap period ({wrap_period_s:.0f} s): energy over that gap "
                    "is a lower bound",
                )
        state.energy_j += delta_j
        state.last_uj, state.last_t, state.failing = raw, t, False
        power_w = delta_j / dt if dt > 0 else None
        return Reading(domain.device_id, state.energy_j, power_w, lower_bound=lower_bound)


def probe(ctx: ProbeContext, *, clock: Callable[[], float] = time.monotonic) -> RaplSensor | Absent:
    """Open the RAPL counters under ``ctx.sysfs_root``, or say why there are none."""
    scan = scan_powercap(ctx.sysfs_root)
    powercap = ctx.sysfs_root / "class" / "powercap"
    if scan is None:
        return Absent(
            KIND,
            f"no powercap tree under {powercap}: likely a VM or container, or not Linux",
            fix="on Linux bare metal load the driver: sudo modprobe intel_rapl_msr; elsewhere "
            "CPU and RAM energy are modelled (set CARBONLEDGER_CPU_TDP_W to improve the CPU "
            "model)",
            component=Component.CPU,
        )
    if not scan.domains and not scan.invalid:
        seen = "; ".join(scan.skipped) or "no RAPL zones"
        return Absent(
            KIND,
            f"no RAPL package or DRAM domain under {powercap} ({seen})",
            fix="load the driver (sudo modprobe intel_rapl_msr; AMD Zen needs Linux 5.8 or "
            "later); in a VM RAPL is usually not exposed",
            component=Component.CPU,
        )
    baselines: dict[str, int] = {}
    usable: list[RaplDomain] = []
    denied: list[Path] = []
    errors: list[str] = list(scan.invalid)
    for domain in scan.domains:
        try:
            baseline_uj = _sysfs.read_int(domain.energy_path)
        except PermissionError:
            denied.append(domain.energy_path)
            continue
        except (OSError, ValueError) as exc:
            errors.append(f"cannot read {domain.energy_path}: {exc}")
            continue
        max_range = domain.max_energy_range_uj
        if max_range is not None and baseline_uj > max_range:
            errors.append(
                f"invalid {domain.energy_path}: {baseline_uj} exceeds max_energy_range_uj "
                f"{max_range}"
            )
            continue
        baselines[domain.device_id] = baseline_uj
        usable.append(domain)
    if denied and not usable:
        return Absent(
            KIND,
            f"permission denied reading {denied[0]}",
            fix=permission_fix(powercap),
            component=Component.CPU,
        )
    if not usable:
        return Absent(
            KIND,
            f"no usable RAPL domain under {powercap}: " + "; ".join(errors),
            fix="CPU and RAM energy are modelled instead (set CARBONLEDGER_CPU_TDP_W to "
            "improve the CPU model)",
            component=Component.CPU,
        )
    for path in denied:
        log.warning("rapl: permission denied reading %s; that domain is left out", path)
    for message in errors:
        log.warning("rapl: %s; that domain is left out", message)
    return RaplSensor(usable, baselines, clock=clock)
