"""Modelled CPU power, for machines whose CPU has no energy counter (VMs, containers, macOS).

The model (see docs/methodology/sensors.md):

    P(u) = TDP × sockets × (f_idle + (1 − f_idle) × u)

``u`` is the machine-wide CPU utilisation over the interval between two reads (from
``/proc/stat`` CPU-time differences, psutil elsewhere), ``TDP`` the thermal design power
of one socket, and
``f_idle`` = :data:`IDLE_FRACTION`, the median ratio of active-idle to full-load power of
the published SPECpower_ssj2008 results (computed by ``scripts/build_cpu_table.py``).
Energy accumulates per read: ``E += P(u) × Δt``.

TDP comes from ``ctx.cpu_tdp_w`` (per socket; method ``modeled``, source
``user:cpu_tdp_w``), else from the bundled table ``data/cpu_tdp.csv`` (built from
CodeCarbon's ``cpu_power.csv``; ``modeled``, source ``tdp-table:cpu_power.csv:<name>``),
else :data:`DEFAULT_TDP_W` (method ``default``, source ``default-tdp``).

On a virtual machine or in a CPU-limited container (:mod:`carbonledger.sensors.virt`) the
model charges the share of the host the machine may use, not whole sockets: a VM gets
``TDP × vCPUs / threads per chip`` when its CPU model and the chip's threads are known, else
Cloud Carbon Footprint's per-vCPU coefficients ``vCPUs × (min + u × (max − min))`` (source
``vm-share:ccf-<cloud>``); a container on bare metal gets ``TDP × sockets × CPUs / host
threads``. The caveats are in the device's ``details["warnings"]``, which pricing copies
into the footprint. Rules and sources: docs/methodology/sensors.md.

Matching a CPU name to the table never guesses: names are normalised (vendor marks,
clock speeds, core counts and generation words removed), the *model tokens* (tokens
with a digit: ``6248``, ``e5 2670 v3``, ``9 5950x``) must be identical, and the table
entry's other words (``xeon``, ``gold``) must all appear in the CPU's name. No match, or
more than one, means unknown.
"""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from carbonledger import procfs
from carbonledger.lifecycle.cpu_table import (
    TABLE_FILE,
    TABLE_HEADER,
    CpuEntry,
    CpuKey,
    CpuTable,
    match_bundled,
    normalise_cpu_name,
    parse_cpu_name,
)
from carbonledger.records import Component, DeviceInfo, Method, Reading
from carbonledger.sensors import _sysfs, virt
from carbonledger.sensors.base import Absent, ProbeContext

__all__ = [
    "DEFAULT_TDP_W",
    "DEFAULT_UNCERTAINTY_REL",
    "IDLE_FRACTION",
    "MODELED_UNCERTAINTY_REL",
    "TABLE_FILE",
    "TABLE_HEADER",
    "VM_TDP_SHARE_UNCERTAINTY_REL",
    "CpuEntry",
    "CpuKey",
    "CpuModelSensor",
    "CpuTable",
    "count_sockets",
    "machine_cpu_times",
    "match_bundled",
    "modeled_power_w",
    "normalise_cpu_name",
    "parse_cpu_name",
    "probe",
    "read_cpu_name",
]

log = logging.getLogger(__name__)

KIND = "cpu_model"
DEVICE_ID = "model:cpu"
# Median (active idle W) / (100 % load W) over the 1,088 SPECpower_ssj2008 results in
# specpower_2026-03-09.csv (via Cloud Carbon Footprint); interquartile range 0.19-0.32.
# scripts/build_cpu_table.py recomputes it and fails if this constant drifts.
IDLE_FRACTION = 0.245
# Median TDP of the Xeon and EPYC server parts in cpu_power.csv (recomputed and checked by
# scripts/build_cpu_table.py): used when the CPU is unknown.
DEFAULT_TDP_W = 120.0
# TDP is a thermal rating, not measured draw; together with the linear utilisation model
# (real curves are concave, turbo exceeds TDP) a modelled figure can be off by a third.
MODELED_UNCERTAINTY_REL = 0.35
# With a default TDP the error is dominated by the unknown part: server CPUs span roughly
# 45-400 W per socket.
DEFAULT_UNCERTAINTY_REL = 0.5
# A VM's share of a known host CPU: the TDP's own error (above) and the share's (SMT
# siblings are not full cores, the host's other tenants and turbo move the draw) together.
VM_TDP_SHARE_UNCERTAINTY_REL = 0.45


# -- machine facts -------------------------------------------------------------------------
def read_cpu_name(cpuinfo_path: Path = Path("/proc/cpuinfo")) -> str | None:
    """The CPU model name from ``/proc/cpuinfo`` (first ``model name``), else from
    :func:`platform.processor`; ``None`` when neither says anything useful."""
    try:
        text = cpuinfo_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and value.strip():
            return " ".join(value.split())
    fallback = platform.processor().strip()
    if fallback and fallback != platform.machine():
        return fallback
    return None


def is_virtual_machine(cpuinfo_path: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether the CPU flags say a hypervisor is present."""
    try:
        text = cpuinfo_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return "hypervisor" in value.split()
    return False


def count_sockets(sysfs_root: Path) -> int | None:
    """Distinct ``physical_package_id`` values under ``<sysfs_root>/devices/system/cpu``."""
    packages: set[int] = set()
    for path in (sysfs_root / "devices" / "system" / "cpu").glob(
        "cpu[0-9]*/topology/physical_package_id"
    ):
        try:
            packages.add(int(_sysfs.read_text(path)))
        except (OSError, ValueError):
            continue
    packages.discard(-1)  # "unknown" on some VMs and ARM boards
    return len(packages) or None


CpuTimes = Callable[[], tuple[float, float]]

_NOT_OURS = ("guest", "guest_nice", "steal")  # guest time is already in user/nice on Linux
_IDLE = ("idle", "iowait")


def machine_cpu_times() -> tuple[float, float]:
    """``(busy_s, total_s)`` of all CPUs since boot; stolen and guest time excluded."""
    fields = procfs.cpu_times()
    total = sum(v for k, v in fields.items() if k not in _NOT_OURS)
    idle = sum(fields.get(k, 0.0) for k in _IDLE)
    return total - idle, total


def modeled_power_w(
    tdp_w: float, sockets: int, utilisation: float, idle_fraction: float = IDLE_FRACTION
) -> float:
    """``TDP × sockets × (f_idle + (1 − f_idle) × u)``, with ``u`` clamped to [0, 1]."""
    u = min(1.0, max(0.0, utilisation))
    return tdp_w * sockets * (idle_fraction + (1.0 - idle_fraction) * u)


# -- the sensor ----------------------------------------------------------------------------
class CpuModelSensor:
    """Cumulative modelled CPU energy: ``E += P(u) × Δt`` at every read."""

    kind = KIND

    def __init__(
        self,
        device: DeviceInfo,
        *,
        tdp_w: float,
        sockets: int,
        cpu_times: CpuTimes = machine_cpu_times,
        clock: Callable[[], float] = time.monotonic,
        idle_fraction: float = IDLE_FRACTION,
        power_at: Callable[[float], float] | None = None,
    ) -> None:
        self._device = device
        self._power_at = power_at
        self.tdp_w = tdp_w
        self.sockets = sockets
        self.idle_fraction = idle_fraction
        self._cpu_times = cpu_times
        self._clock = clock
        self._last_t = clock()
        self._last_busy, self._last_total = cpu_times()
        self._last_u = 0.0
        self.energy_j = 0.0
        self._warned = False

    def devices(self) -> Sequence[DeviceInfo]:
        return [self._device]

    def read(self) -> list[Reading]:
        try:
            busy, total = self._cpu_times()
        except Exception as exc:
            if not self._warned:
                self._warned = True
                log.warning("%s: cannot read CPU times: %s", DEVICE_ID, exc)
            return [Reading(DEVICE_ID, None)]
        t = self._clock()
        dt = max(0.0, t - self._last_t)
        d_total = total - self._last_total
        if d_total > 0:
            self._last_u = min(1.0, max(0.0, (busy - self._last_busy) / d_total))
        if self._power_at is not None:
            power_w = self._power_at(self._last_u)
        else:
            power_w = modeled_power_w(self.tdp_w, self.sockets, self._last_u, self.idle_fraction)
        self.energy_j += power_w * dt
        self._last_t, self._last_busy, self._last_total = t, busy, total
        return [Reading(DEVICE_ID, self.energy_j, power_w)]

    def close(self) -> None:
        pass


def _vm_note(share: virt.HostShare) -> str:
    v = share.virtualization
    vm = "virtual machine" if v.kind == "unknown" else f"virtual machine ({v.kind})"
    what = vm if v.is_vm else "container"
    if v.is_vm and share.cgroup is not None and share.kind == "vm+container":
        what = f"container in a {vm}"
    return what


def _share_model(
    share: virt.HostShare,
    entry: CpuEntry | None,
    cpu_name: str | None,
    sockets: int,
) -> tuple[Callable[[float], float], Method, str, float, dict[str, object], list[str]]:
    """The power model of a VM's or container's share of its host (see the module doc)."""
    cpus = share.cpus or 1.0
    what = _vm_note(share)
    warnings: list[str] = []
    details: dict[str, object] = {"host_share": share.share, "host_share_basis": share.basis}
    chip = virt.chip_threads(entry.key if entry is not None else None)
    if not share.virtualization.is_vm:
        # a container on bare metal: its share of every socket of this host
        tdp_w = entry.tdp_w if entry is not None else DEFAULT_TDP_W
        fraction = share.share or 1.0
        base = f"tdp-table:cpu_power.csv:{entry.name}" if entry is not None else "default-tdp"
        method = Method.MODELED if entry is not None else Method.DEFAULT
        rel = MODELED_UNCERTAINTY_REL if entry is not None else DEFAULT_UNCERTAINTY_REL

        def power(u: float) -> float:
            return modeled_power_w(tdp_w, sockets, u) * fraction

        details.update(
            tdp_w=tdp_w, formula="P = TDP × sockets × share × (f_idle + (1 − f_idle) × u)"
        )
        source = f"container-share:{base}"
        warnings.append(
            f"cpu: a {what}; CPU power is modelled as its share of the host "
            f"({fraction:.1%}: {share.basis}), not the whole host"
        )
    elif entry is not None and chip is not None:
        tdp_w, fraction = entry.tdp_w, min(1.0, cpus / chip)

        def power(u: float) -> float:
            return modeled_power_w(tdp_w, 1, u) * fraction

        method, rel = Method.MODELED, VM_TDP_SHARE_UNCERTAINTY_REL
        source = f"vm-share:tdp-table:cpu_power.csv:{entry.name}"
        details.update(
            tdp_w=tdp_w,
            chip_threads=chip,
            formula="P = TDP × (vCPUs / threads per chip) × (f_idle + (1 − f_idle) × u)",
        )
        warnings.append(
            f"cpu: a {what}; CPU power is modelled as its share of the host CPU: "
            f"{entry.name} {tdp_w:g} W × {cpus:g} / {chip} threads (VM share assumed, "
            f"±{rel:.0%})"
        )
    else:
        coeff = virt.vcpu_coefficients(share.virtualization.cloud)

        def power(u: float) -> float:
            return coeff.power_w(cpus, u)

        method, rel, source = Method.MODELED, coeff.uncertainty_rel, coeff.source
        cloud = coeff.cloud if coeff.cloud != "any" else "any cloud: AWS, Azure and GCP pooled"
        details.update(
            tdp_w=None,
            vcpu_min_w=coeff.min_w,
            vcpu_max_w=coeff.max_w,
            vcpu_cloud=coeff.cloud,
            formula="P = vCPUs × (min_W + u × (max_W − min_W))  (Cloud Carbon Footprint)",
        )
        reason = (
            f"CPU model {cpu_name!r} is not in the TDP table"
            if entry is None
            else f"the threads per chip of {entry.name} are unknown"
        )
        warnings.append(
            f"cpu: a {what}; CPU power is modelled as its share of the host (VM share "
            f"assumed): {cpus:g} vCPUs × Cloud Carbon Footprint's {coeff.min_w:.2f}–"
            f"{coeff.max_w:.2f} W per vCPU ({cloud}), ±{rel:.0%}; {reason}"
        )
    details["note"] = (
        f"{what}: charged its share of the host, not whole sockets ({share.basis}); "
        "set cpu_tdp_w to override"
    )
    return power, method, source, rel, details, warnings


def probe(
    ctx: ProbeContext,
    *,
    cpuinfo_path: Path | None = None,
    proc_root: Path | None = None,
    cpu_times: CpuTimes | None = None,
    clock: Callable[[], float] = time.monotonic,
    table: CpuTable | None = None,
) -> CpuModelSensor | Absent:
    """A modelled CPU from the CPU's name, socket count and TDP (see the module doc); on a
    virtual machine or in a CPU-limited container, the share of the host it may use."""
    proc = proc_root if proc_root is not None else virt.proc_root(ctx.environ)
    cpuinfo_path = cpuinfo_path if cpuinfo_path is not None else proc / "cpuinfo"
    cpu_name = read_cpu_name(cpuinfo_path)
    counted = count_sockets(ctx.sysfs_root)
    sockets = counted or 1
    entry = None
    if cpu_name is not None:
        entry = table.match(cpu_name) if table is not None else match_bundled(cpu_name)
    share = virt.cached_host_share(
        ctx.sysfs_root,
        proc,
        cpu_model_key=entry.key if entry is not None else None,
        cpuinfo_path=cpuinfo_path,
    )
    warnings: list[str] = []
    power_at: Callable[[float], float] | None = None
    extra: dict[str, object] = {}
    if ctx.cpu_tdp_w is not None:
        tdp_w, method, source = ctx.cpu_tdp_w, Method.MODELED, "user:cpu_tdp_w"
        uncertainty = MODELED_UNCERTAINTY_REL
        if share.kind is not None:
            extra["note"] = f"{_vm_note(share)}: the user's cpu_tdp_w is taken as this machine's"
    elif share.kind is not None:
        power_at, method, source, uncertainty, extra, warnings = _share_model(
            share, entry, cpu_name, sockets
        )
        tdp_w = entry.tdp_w if entry is not None else DEFAULT_TDP_W
    elif entry is not None:
        tdp_w, method = entry.tdp_w, Method.MODELED
        source = f"tdp-table:cpu_power.csv:{entry.name}"
        uncertainty = MODELED_UNCERTAINTY_REL
    else:
        tdp_w, method, source = DEFAULT_TDP_W, Method.DEFAULT, "default-tdp"
        uncertainty = DEFAULT_UNCERTAINTY_REL
        warnings.append(
            f"cpu: CPU model {cpu_name or 'unknown'!r} is not in the TDP table; modelled at "
            f"the default {DEFAULT_TDP_W:g} W per socket (±{uncertainty:.0%}); set cpu_tdp_w"
        )
    details: dict[str, object] = {
        "cpu_name": cpu_name,
        "tdp_w": tdp_w,
        "table_match": entry.name if entry is not None else None,
        "sockets": sockets,
        "sockets_source": "sysfs physical_package_id" if counted else "assumed 1",
        "idle_fraction": IDLE_FRACTION,
        "formula": "P = TDP × sockets × (f_idle + (1 − f_idle) × u)",
        "virtual_machine": share.virtualization.is_vm,
        "virtualization": share.virtualization.kind,
        "cgroup_cpu_limit": None if share.cgroup is None else share.cgroup.cpus,
        **extra,
    }
    if warnings:
        details["warnings"] = warnings
    times = cpu_times
    if times is None:
        times = machine_cpu_times
        if power_at is not None and share.cgroup is not None and share.cpus == share.cgroup.cpus:
            try:
                virt.cgroup_usage_s(share.cgroup)
                times = virt.cgroup_cpu_times(share.cgroup, clock)
                details["utilisation_source"] = "cgroup CPU usage / limit"
            except (OSError, ValueError):
                details["utilisation_source"] = "machine-wide /proc/stat (cgroup usage unreadable)"
    device = DeviceInfo(
        device_id=DEVICE_ID,
        component=Component.CPU,
        name=cpu_name or "unknown CPU",
        method=method,
        source=source,
        uncertainty_rel=uncertainty,
        details=details,
    )
    try:
        return CpuModelSensor(
            device,
            tdp_w=tdp_w,
            sockets=sockets,
            cpu_times=times,
            clock=clock,
            power_at=power_at,
        )
    except Exception as exc:
        return Absent(KIND, f"cannot read CPU times: {exc}", component=Component.CPU)
