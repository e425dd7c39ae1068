"""Is this a virtual machine or a CPU-limited container, and what share of the host is it?

Local facts only (no subprocess, no network), every one read under injectable roots
(``sysfs_root``, default ``/sys``, which also holds ``fs/cgroup``; ``proc_root``, default
``/proc``), so tests and containers can point them at another tree:

- **virtual machine**: the ``hypervisor`` flag of ``<proc>/cpuinfo`` (set by every x86
  hypervisor for its guests), ``<sys>/hypervisor/type`` (Xen), and the DMI strings of
  ``<sys>/class/dmi/id`` (``sys_vendor``, ``product_name``, ``board_vendor``,
  ``bios_vendor``) naming a hypervisor (QEMU/KVM, Xen, VMware, VirtualBox, Hyper-V,
  Parallels, bhyve, Google Compute Engine, Amazon EC2 except ``*.metal``); the cloud from
  :func:`carbonledger.intensity.cloud_detect.detect_cloud_provider`;
- **cgroup CPU limit**: ``<proc>/self/cgroup`` finds the process's cgroup; cgroup v2
  ``cpu.max`` (quota / period, the smallest over the cgroup and its ancestors) and
  ``cpuset.cpus.effective``; cgroup v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` and
  ``cpuset.effective_cpus`` (or ``cpuset.cpus``). The limit is the smaller of the two.

The share of the host (:class:`HostShare`) is CPUs usable / host threads; how the host's
threads are known (counted on bare metal, from the CPU model, or assumed for a cloud VM) is
said in its ``basis``. Rules and sources: docs/methodology/sensors.md, "Virtual machines and
containers".
"""

from __future__ import annotations

import csv
import functools
import io
import math
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from carbonledger.errors import DataError

__all__ = [
    "THREADS_FILE",
    "THREADS_HEADER",
    "VCPU_FILE",
    "VCPU_HEADER",
    "CpuLimit",
    "HostShare",
    "VcpuCoefficients",
    "Virtualization",
    "cached_host_share",
    "cgroup_cpu_limit",
    "cgroup_cpu_times",
    "cgroup_usage_s",
    "chip_threads",
    "detect_host_share",
    "detect_virtualization",
    "online_cpus",
    "parse_cpu_list",
    "proc_root",
    "vcpu_coefficients",
]

VCPU_FILE = "vcpu_power.csv"
VCPU_HEADER = ("cloud", "min_w", "max_w", "uncertainty_rel", "host_threads", "architectures")
THREADS_FILE = "cpu_threads.csv"
THREADS_HEADER = ("model_key", "cores_per_chip", "threads_per_core", "results")

_DMI_FILES = ("sys_vendor", "product_name", "board_vendor", "bios_vendor")
# (substring of a lower-cased DMI string, hypervisor kind)
_DMI_HYPERVISORS = (
    ("qemu", "kvm"),
    ("kvm", "kvm"),
    ("bochs", "kvm"),
    ("openstack", "kvm"),
    ("google compute engine", "kvm"),
    ("xen", "xen"),
    ("vmware", "vmware"),
    ("innotek", "virtualbox"),
    ("virtualbox", "virtualbox"),
    ("parallels", "parallels"),
    ("bhyve", "bhyve"),
)


def _read(path: Path) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read().strip()
    except OSError:
        return None


# -- virtual machine -----------------------------------------------------------------------
@dataclass(frozen=True)
class Virtualization:
    """Whether this machine is a VM: ``kind`` is the hypervisor (``kvm``, ``xen``,
    ``hyperv``, ``vmware``, ``unknown``…) or None on bare metal; ``evidence`` says why."""

    kind: str | None
    cloud: str | None = None
    evidence: tuple[str, ...] = ()

    @property
    def is_vm(self) -> bool:
        return self.kind is not None


def proc_root(environ: Mapping[str, str]) -> Path:
    """The ``/proc`` to read: ``CARBONLEDGER_PROC_ROOT`` when set (tests, containers)."""
    return Path(environ.get("CARBONLEDGER_PROC_ROOT") or "/proc")


def _cpuinfo_flag(cpuinfo_path: Path) -> bool:
    text = _read(cpuinfo_path) or ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return "hypervisor" in value.split()
    return False


def detect_virtualization(
    sysfs_root: Path = Path("/sys"),
    proc_root: Path = Path("/proc"),
    *,
    cpuinfo_path: Path | None = None,
) -> Virtualization:
    """Detect a hypervisor from ``cpuinfo``, ``/sys/hypervisor/type`` and DMI strings."""
    from carbonledger.intensity.cloud_detect import detect_cloud_provider

    evidence: list[str] = []
    kind: str | None = None
    flag = _cpuinfo_flag(cpuinfo_path or proc_root / "cpuinfo")
    if flag:
        evidence.append("cpuinfo flag hypervisor")
    hv_type = _read(sysfs_root / "hypervisor" / "type")
    if hv_type:
        evidence.append(f"/sys/hypervisor/type {hv_type[:40]!r}")
        kind = re.sub(r"[^a-z0-9_.-]", "", hv_type.lower())[:32] or "unknown"
    dmi = {n: v for n in _DMI_FILES if (v := _read(sysfs_root / "class" / "dmi" / "id" / n))}
    product = dmi.get("product_name", "").lower()
    for name, value in dmi.items():
        low = value.lower()
        hit = next((k for s, k in _DMI_HYPERVISORS if s in low), None)
        if hit is None and name == "product_name" and low == "virtual machine":
            hit = "hyperv" if "microsoft" in dmi.get("sys_vendor", "").lower() else None
        if hit is None and "amazon ec2" in low and not product.endswith(".metal"):
            hit = "kvm" if flag else None  # Nitro bare-metal instances say Amazon EC2 too
        if hit is not None:
            evidence.append(f"DMI {name} {value!r}")
            kind = kind or hit
    if flag and kind is None:
        kind = "unknown"
    cloud = detect_cloud_provider(sysfs_root) if kind is not None else None
    return Virtualization(kind, cloud, tuple(evidence))


# -- CPUs and cgroups ----------------------------------------------------------------------
def parse_cpu_list(text: str) -> int:
    """How many CPUs a kernel CPU list names (``"0-3,8,10-11"`` → 7). Raises ValueError."""
    count = 0
    for part in text.strip().split(","):
        part = part.strip()
        if not part:
            continue
        low, _, high = part.partition("-")
        first, last = int(low), int(high) if high else int(low)
        if first < 0 or last < first:
            raise ValueError(f"bad CPU range {part!r}")
        count += last - first + 1
    if count == 0:
        raise ValueError(f"empty CPU list {text!r}")
    return count


def online_cpus(sysfs_root: Path = Path("/sys")) -> int | None:
    """CPUs the kernel has online (``devices/system/cpu/online``), else ``os.cpu_count()``."""
    text = _read(sysfs_root / "devices" / "system" / "cpu" / "online")
    if text:
        try:
            return parse_cpu_list(text)
        except ValueError:
            pass
    return os.cpu_count()


@dataclass(frozen=True)
class CpuLimit:
    """The CPUs a cgroup lets this process use (may be fractional) and where that was read."""

    cpus: float
    source: str
    version: int
    usage_path: Path | None = None  # cumulative CPU time of the cgroup (for its utilisation)


def _cgroup_paths(proc_root: Path) -> tuple[str | None, dict[str, str]]:
    """The v2 path and the v1 paths by controller from ``<proc>/self/cgroup``."""
    v2: str | None = None
    v1: dict[str, str] = {}
    for line in (_read(proc_root / "self" / "cgroup") or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if not controllers:
            v2 = path
        for controller in controllers.split(","):
            if controller:
                v1[controller] = path
    return v2, v1


def _under(base: Path, path: str) -> Path:
    """``base/path`` if that exists, else ``base`` (a namespaced cgroup sees its own root)."""
    candidate = base / path.lstrip("/")
    return candidate if candidate.is_dir() else base


def _ancestors(base: Path, leaf: Path) -> list[Path]:
    out = [leaf]
    while out[-1] != base and base in out[-1].parents:
        out.append(out[-1].parent)
    return out


def _quota_cpus(quota_text: str | None, period_text: str | None) -> float | None:
    try:
        if quota_text is None or period_text is None or quota_text in ("max", "-1"):
            return None
        quota, period = float(quota_text), float(period_text)
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def _cpuset_cpus(path: Path, *names: str) -> int | None:
    for name in names:
        text = _read(path / name)
        if text:
            try:
                return parse_cpu_list(text)
            except ValueError:
                return None
    return None


def _limit(quota: tuple[float, str] | None, cpuset: tuple[int, str] | None) -> CpuLimit | None:
    options = [o for o in (quota, cpuset) if o is not None]
    if not options:
        return None
    cpus, source = min(options, key=lambda o: o[0])
    return CpuLimit(float(cpus), source, 0)


def cgroup_cpu_limit(
    sysfs_root: Path = Path("/sys"), proc_root: Path = Path("/proc")
) -> CpuLimit | None:
    """The cgroup's CPU limit (quota or cpuset, whichever is smaller), or None if unlimited.

    A cpuset that spans every online CPU is no limit. Unreadable files count as no limit.
    """
    root = sysfs_root / "fs" / "cgroup"
    online = online_cpus(sysfs_root)
    v2, v1 = _cgroup_paths(proc_root)
    if v2 is not None and (root / "cgroup.controllers").exists():
        leaf = _under(root, v2)
        quotas = []
        for d in _ancestors(root, leaf):
            text = _read(d / "cpu.max")
            if text:
                q, _, p = text.partition(" ")
                cpus = _quota_cpus(q, p or "100000")
                if cpus is not None:
                    quotas.append((cpus, f"cgroup v2 cpu.max {text}"))
        n_set = _cpuset_cpus(leaf, "cpuset.cpus.effective")
        found = _limit(
            min(quotas) if quotas else None,
            (n_set, "cgroup v2 cpuset.cpus.effective")
            if n_set is not None and (online is None or n_set < online)
            else None,
        )
        if found is None:
            return None
        return CpuLimit(found.cpus, found.source, 2, leaf / "cpu.stat")
    cpu_path = v1.get("cpu") or v1.get("cpuacct")
    quota: tuple[float, str] | None = None
    usage: Path | None = None
    if cpu_path is not None:
        for mount in ("cpu,cpuacct", "cpu", "cpuacct,cpu"):
            base = root / mount
            if not base.is_dir():
                continue
            d = _under(base, cpu_path)
            q_text, p_text = _read(d / "cpu.cfs_quota_us"), _read(d / "cpu.cfs_period_us")
            cpus = _quota_cpus(q_text, p_text)
            if cpus is not None:
                quota = (cpus, f"cgroup v1 cpu.cfs_quota_us {q_text} / cfs_period_us {p_text}")
            break
        for mount in ("cpu,cpuacct", "cpuacct", "cpuacct,cpu"):
            candidate = _under(root / mount, v1.get("cpuacct", cpu_path)) / "cpuacct.usage"
            if candidate.exists():
                usage = candidate
                break
    cpuset: tuple[int, str] | None = None
    if "cpuset" in v1 and (root / "cpuset").is_dir():
        n = _cpuset_cpus(
            _under(root / "cpuset", v1["cpuset"]), "cpuset.effective_cpus", "cpuset.cpus"
        )
        if n is not None and (online is None or n < online):
            cpuset = (n, "cgroup v1 cpuset.cpus")
    found = _limit(quota, cpuset)
    if found is None:
        return None
    return CpuLimit(found.cpus, found.source, 1, usage)


def cgroup_usage_s(limit: CpuLimit) -> float:
    """Cumulative CPU seconds used by the cgroup (v2 ``cpu.stat`` ``usage_usec``, v1
    ``cpuacct.usage`` in ns). Raises OSError or ValueError when unreadable."""
    if limit.usage_path is None:
        raise OSError("no cgroup CPU usage file")
    text = _read(limit.usage_path)
    if text is None:
        raise OSError(f"cannot read {limit.usage_path}")
    if limit.version == 2:
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "usage_usec":
                return int(value) / 1e6
        raise ValueError(f"{limit.usage_path}: no usage_usec")
    return int(text) / 1e9


def cgroup_cpu_times(
    limit: CpuLimit, clock: Callable[[], float]
) -> Callable[[], tuple[float, float]]:
    """``(busy_s, capacity_s)`` for the CPU model: the cgroup's CPU time, and its limit × a
    monotonic clock, so that Δbusy / Δcapacity is the utilisation of the CPUs it may use."""

    def times() -> tuple[float, float]:
        return cgroup_usage_s(limit), limit.cpus * clock()

    return times


# -- bundled tables --------------------------------------------------------------------------
@dataclass(frozen=True)
class VcpuCoefficients:
    """Cloud Carbon Footprint's watts per vCPU for one cloud (``any``: the clouds pooled)."""

    cloud: str
    min_w: float
    max_w: float
    uncertainty_rel: float
    host_threads: float
    architectures: int

    def power_w(self, vcpus: float, utilisation: float) -> float:
        """CCF: ``vCPUs × (min + u × (max − min))``, ``u`` clamped to [0, 1]."""
        u = min(1.0, max(0.0, utilisation))
        return vcpus * (self.min_w + u * (self.max_w - self.min_w))

    @property
    def source(self) -> str:
        return f"vm-share:ccf-{self.cloud}"


def _bundled(name: str) -> str:
    try:
        return resources.files("carbonledger").joinpath("data").joinpath(name).read_text("utf-8")
    except OSError as exc:
        raise DataError(f"cannot read bundled table carbonledger/data/{name}: {exc}") from None


def _rows(name: str, header: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(_bundled(name)))
    if tuple(reader.fieldnames or ()) != header:
        raise DataError(f"carbonledger/data/{name}:1: expected header {','.join(header)}")
    return [(reader.line_num, row) for row in reader]


def _number(row: Mapping[str, str], field: str, name: str, line: int) -> float:
    try:
        value = float(row[field])
    except (TypeError, ValueError):
        raise DataError(f"carbonledger/data/{name}:{line}: {field} is not a number") from None
    if not (math.isfinite(value) and value >= 0):
        raise DataError(f"carbonledger/data/{name}:{line}: {field} must be ≥ 0")
    return value


@functools.lru_cache(maxsize=1)
def _vcpu_table() -> dict[str, VcpuCoefficients]:
    out = {}
    for line, row in _rows(VCPU_FILE, VCPU_HEADER):
        n = functools.partial(_number, row, name=VCPU_FILE, line=line)
        out[row["cloud"]] = VcpuCoefficients(
            row["cloud"],
            n("min_w"),
            n("max_w"),
            n("uncertainty_rel"),
            n("host_threads"),
            int(n("architectures")),
        )
    if "any" not in out:
        raise DataError(f"carbonledger/data/{VCPU_FILE}: no 'any' row")
    return out


def vcpu_coefficients(cloud: str | None) -> VcpuCoefficients:
    """The per-vCPU coefficients of ``cloud`` (``aws``, ``azure``, ``gcp``), else ``any``."""
    table = _vcpu_table()
    return table.get(cloud or "any", table["any"])


@functools.lru_cache(maxsize=1)
def _threads_table() -> dict[str, tuple[int, int]]:
    out = {}
    for line, row in _rows(THREADS_FILE, THREADS_HEADER):
        n = functools.partial(_number, row, name=THREADS_FILE, line=line)
        out[row["model_key"]] = (int(n("cores_per_chip")), int(n("threads_per_core")))
    return out


def chip_threads(model_key: str | None) -> int | None:
    """Hardware threads of one chip of the CPU model ``model_key`` (a ``cpu_tdp.csv`` key),
    when the SPECpower results list it; else None."""
    if model_key is None:
        return None
    found = _threads_table().get(model_key)
    return None if found is None else found[0] * found[1]


# -- the share -----------------------------------------------------------------------------
@dataclass(frozen=True)
class HostShare:
    """This machine's (or container's) share of the physical host's CPU threads.

    ``vcpus``: CPUs the OS sees (a VM's vCPUs; the host's threads on bare metal);
    ``cpus``: CPUs usable (``vcpus``, or the cgroup limit when smaller); ``host_threads``:
    threads of the physical host (or of one chip, see ``host_threads_basis``).
    """

    virtualization: Virtualization
    vcpus: int | None
    cgroup: CpuLimit | None
    host_threads: float | None
    host_threads_basis: str

    @property
    def cpus(self) -> float | None:
        if self.cgroup is not None and (self.vcpus is None or self.cgroup.cpus < self.vcpus):
            return self.cgroup.cpus
        return None if self.vcpus is None else float(self.vcpus)

    @property
    def kind(self) -> str | None:
        """``vm``, ``container``, ``vm+container`` or None (the whole of a bare-metal host)."""
        parts = []
        if self.virtualization.is_vm:
            parts.append("vm")
        if self.cgroup is not None and self.share is not None and self.cgroup.cpus == self.cpus:
            parts.append("container")
        return "+".join(parts) or None

    @property
    def share(self) -> float | None:
        cpus = self.cpus
        if cpus is None or not self.host_threads:
            return None
        return min(1.0, cpus / self.host_threads)

    @property
    def basis(self) -> str:
        """How the share was computed, in words."""
        cpus = self.cpus
        what = (
            f"cgroup limit {cpus:g} CPUs ({self.cgroup.source})"
            if self.cgroup is not None and cpus == self.cgroup.cpus
            else f"{self.vcpus} vCPUs"
            if self.virtualization.is_vm
            else f"{self.vcpus} CPUs"
        )
        if self.host_threads is None:
            return f"{what}; host threads unknown"
        return f"{what} / {self.host_threads:g} host threads ({self.host_threads_basis})"

    def facts(self) -> dict[str, Any]:
        """The host facts recorded with a run (see :mod:`carbonledger.hostinfo`)."""
        v = self.virtualization
        return {
            "virtualization": v.kind,
            "virtualization_evidence": list(v.evidence),
            "cloud": v.cloud,
            "vcpus": self.vcpus,
            "cgroup_cpu_limit": None if self.cgroup is None else self.cgroup.cpus,
            "cgroup_cpu_limit_source": None if self.cgroup is None else self.cgroup.source,
            "host_threads": self.host_threads,
            "host_threads_basis": self.host_threads_basis,
            "host_share": self.share,
            "host_share_kind": self.kind,
            "host_share_basis": self.basis,
        }


def detect_host_share(
    sysfs_root: Path = Path("/sys"),
    proc_root: Path = Path("/proc"),
    *,
    cpu_model_key: str | None = None,
    cpuinfo_path: Path | None = None,
) -> HostShare:
    """This machine's share of its host (see the module doc and :class:`HostShare`).

    Host threads: on bare metal, the CPUs online; on a VM, one chip's threads when the CPU
    model (``cpu_model_key``, a ``cpu_tdp.csv`` key) is in the threads table, else the
    median host of the detected cloud (``any`` when unknown) from ``vcpu_power.csv``.
    """
    virt = detect_virtualization(sysfs_root, proc_root, cpuinfo_path=cpuinfo_path)
    vcpus = online_cpus(sysfs_root)
    limit = cgroup_cpu_limit(sysfs_root, proc_root)
    if not virt.is_vm:
        threads: float | None = float(vcpus) if vcpus else None
        basis = "CPUs online on this host"
    elif (chip := chip_threads(cpu_model_key)) is not None:
        threads, basis = float(chip), f"one chip of {cpu_model_key}: SPECpower cores × threads"
    else:
        coeff = vcpu_coefficients(virt.cloud)
        threads = coeff.host_threads
        basis = (
            f"assumed: median largest instance of the {coeff.cloud} families in "
            "Cloud Carbon Footprint's tables"
            if coeff.cloud != "any"
            else "assumed: median largest cloud instance (AWS, Azure, GCP) in Cloud Carbon "
            "Footprint's tables"
        )
    if threads is not None and vcpus is not None and virt.is_vm and threads < vcpus:
        threads, basis = float(vcpus), f"{basis}, raised to the VM's own vCPUs"
    return HostShare(virt, vcpus, limit, threads, basis)


# The host facts of the real /sys and /proc, remembered for a while: the virtualization and
# the host's size do not change within a process, a cgroup CPU limit rarely does, and a
# start reads them twice (the CPU model's probe, the run's host facts).
HOST_SHARE_TTL_S = 60.0
_REAL_ROOTS = (Path("/sys"), Path("/proc"))
_share_cache: dict[str | None, tuple[float, HostShare]] = {}
_share_lock = threading.Lock()


def cached_host_share(
    sysfs_root: Path = Path("/sys"),
    proc_root: Path = Path("/proc"),
    *,
    cpu_model_key: str | None = None,
    cpuinfo_path: Path | None = None,
) -> HostShare:
    """:func:`detect_host_share`, remembered for :data:`HOST_SHARE_TTL_S` seconds when it
    reads the real ``/sys`` and ``/proc`` (other roots, as tests give, are read each time)."""
    real = (Path(sysfs_root), Path(proc_root)) == _REAL_ROOTS and (
        cpuinfo_path is None or Path(cpuinfo_path) == Path(proc_root) / "cpuinfo"
    )
    if not real:
        return detect_host_share(
            sysfs_root, proc_root, cpu_model_key=cpu_model_key, cpuinfo_path=cpuinfo_path
        )
    now = time.monotonic()
    with _share_lock:
        hit = _share_cache.get(cpu_model_key)
    if hit is not None and now - hit[0] < HOST_SHARE_TTL_S:
        return hit[1]
    share = detect_host_share(sysfs_root, proc_root, cpu_model_key=cpu_model_key)
    with _share_lock:
        _share_cache[cpu_model_key] = (now, share)
    return share
