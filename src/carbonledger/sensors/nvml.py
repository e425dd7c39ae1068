"""NVIDIA GPU energy through NVML (``nvidia-ml-py``, module ``pynvml``, imported lazily).

Energy: ``nvmlDeviceGetTotalEnergyConsumption`` (mJ since the driver loaded; Volta and
later) read by differences; where it is not supported, ``nvmlDeviceGetPowerUsage`` (mW)
integrated by the trapezoid rule between reads.

Which GPUs: those visible to the process under ``CUDA_VISIBLE_DEVICES`` (from
``ctx.environ``): unset means all; an empty value means none; entries are NVML indices
(PCI bus order, which is CUDA's order with ``CUDA_DEVICE_ORDER=PCI_BUS_ID`` or when all
GPUs are the same model), ``GPU-<uuid>`` (or a unique prefix), ``MIG-<uuid>`` (or a
unique prefix) or ``MIG-GPU-<uuid>/<gi>/<ci>``; as in CUDA, the first invalid entry ends
the list.

Under Slurm, ``SLURM_STEP_GPUS`` (else ``SLURM_JOB_GPUS``) names the step's GPUs by their
global ids, "not relative to any device cgroup": the ``/dev/nvidia<N>`` minor number
(NVML's index where NVML gives no minor numbers). Those GPUs, by UUID, are the ones
visible when ``CUDA_VISIBLE_DEVICES`` is unset. Index entries of ``CUDA_VISIBLE_DEVICES``
are relative to the step's GPUs when NVML can open no GPU outside them (a device cgroup,
``ConstrainDevices=yes``: Slurm then numbers them from 0), else global ids. Either way
each device is recorded by its UUID, never by an index.

MIG: an instance has no energy counter of its own. The device reported is the parent GPU
(``nvml:<GPU uuid>``, ``details["mig"] = True``, the visible instances listed in
``details["mig_instances"]``, and the source says the counter is the parent's), once, even
when several of its instances are visible.

Per-process share (when ``ctx.tracked_pids`` is given), in ``Reading.process_share``:

1. ``nvmlDeviceGetProcessUtilization``: the tracked pids' SM utilisation over all pids'
   in the samples since the previous read;
2. where that is unsupported (MIG, older GPUs) or no process used the SMs in the
   interval, ``nvmlDeviceGetComputeRunningProcesses``: 1.0 when only tracked pids hold the
   GPU, 0.0 when the tracked tree holds nothing on it, else the tracked pids' share of
   the GPU memory held (of the process count where memory is not reported);
3. ``None`` (the sampler decides) when NVML's pids are not visible from this process (a
   container with its own PID namespace) or the queries fail.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from carbonledger import procfs
from carbonledger.records import Component, DeviceInfo, Method, Reading
from carbonledger.sampling.integrate import EnergyAccumulator
from carbonledger.sensors import _presence
from carbonledger.sensors.base import Absent, ProbeContext
from carbonledger.units import bytes_to_gib, mj_to_j, mw_to_w

__all__ = [
    "COUNTER_UNCERTAINTY_REL",
    "POWER_UNCERTAINTY_REL",
    "NvmlSensor",
    "parse_slurm_gpus",
    "parse_visible_devices",
    "probe",
]

log = logging.getLogger(__name__)

KIND = "nvml"
# NVML documents its power readings as accurate to ±5 % of the current draw; the energy
# counter integrates the same sensor. Power sampled between reads adds the error of
# interpolating between samples (Yang et al. 2024 report NVML power on A100/H100 sampling
# only part of each window), hence the wider band. See docs/methodology/sensors.md.
COUNTER_UNCERTAINTY_REL = 0.05
POWER_UNCERTAINTY_REL = 0.10
# No GPU board draws this much; a larger mean power between two reads is a reset or misread.
MAX_PLAUSIBLE_POWER_W = 5000.0
_MIN_DT_S = 1e-3
_NVML_DEVICE_MIG_ENABLE = 1
ENV_DCGM_URL = "CARBONLEDGER_DCGM_URL"  # as carbonledger.sensors.dcgm.ENV_URL (lazy import)
DCGM_METRIC = "DCGM_FI_PROF_GR_ENGINE_ACTIVE"


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def parse_visible_devices(value: str | None) -> list[str] | None:
    """``CUDA_VISIBLE_DEVICES`` as a list of entries; ``None`` when unset (all visible)."""
    if value is None:
        return None
    return [item.strip() for item in value.split(",")] if value.strip() else []


@dataclass
class _Physical:
    index: int
    handle: Any
    uuid: str
    mig_enabled: bool
    mig_uuids: list[str]
    mig_handles: dict[str, Any] = field(default_factory=dict)
    minor: int | None = None  # /dev/nvidia<minor>: Slurm's global GPU id


def parse_slurm_gpus(environ: Mapping[str, str]) -> list[int] | None:
    """``SLURM_STEP_GPUS`` (else ``SLURM_JOB_GPUS``) as global GPU ids (``0,2``, ``4-7``);
    None when unset or not a list of ids."""
    raw = environ.get("SLURM_STEP_GPUS") or environ.get("SLURM_JOB_GPUS")
    if raw is None or not raw.strip():
        return None
    ids: list[int] = []
    for item in raw.split(","):
        lo, _, hi = item.strip().partition("-")
        if not lo.isdigit() or (hi and not hi.isdigit()) or (hi and int(hi) < int(lo)):
            return None
        ids.extend(range(int(lo), int(hi or lo) + 1))
        if len(ids) > 4096:
            return None
    return list(dict.fromkeys(ids))


def _with_slurm(
    entries: list[str] | None, step: list[int], gpus: Sequence[_Physical]
) -> list[str] | None:
    """``CUDA_VISIBLE_DEVICES`` entries with the step's GPUs (global ids) as UUIDs."""
    by_minor = all(g.minor is not None for g in gpus)
    by_global = {(g.minor if by_minor else g.index): g.uuid for g in gpus}
    step_uuids = [by_global[i] for i in step if i in by_global]
    if not step_uuids:
        return entries
    if entries is None:
        return step_uuids
    constrained = set(by_global) <= set(step)  # NVML opens no GPU outside the step
    out: list[str] = []
    for entry in entries:
        if not entry.isdigit():
            out.append(entry)
        elif constrained:
            if int(entry) >= len(step_uuids):
                break  # CUDA sees only the step's GPUs: an invalid entry ends the list
            out.append(step_uuids[int(entry)])
        else:
            out.append(by_global.get(int(entry), entry))
    return out


def _unique_prefix(prefix: str, candidates: Sequence[str]) -> str | None:
    exact = [c for c in candidates if c == prefix]
    if exact:
        return exact[0]
    found = [c for c in candidates if c.startswith(prefix)]
    return found[0] if len(found) == 1 else None


def _select(entries: list[str], gpus: Sequence[_Physical]) -> list[tuple[int, str | None]]:
    """(physical index, MIG uuid or None) for each valid entry, up to the first invalid."""
    selected: list[tuple[int, str | None]] = []
    all_migs = {m: g.index for g in gpus for m in g.mig_uuids}
    for entry in entries:
        choice: tuple[int, str | None] | None = None
        if entry.isdigit():
            if any(g.index == int(entry) for g in gpus):
                choice = (int(entry), None)
        elif entry.startswith("MIG-GPU-"):  # legacy MIG-GPU-<uuid>/<gi>/<ci>
            parent = _unique_prefix(entry[len("MIG-") :].split("/")[0], [g.uuid for g in gpus])
            if parent is not None:
                gpu = next(g for g in gpus if g.uuid == parent)
                choice = (gpu.index, entry)
        elif entry.startswith("MIG-"):
            mig = _unique_prefix(entry, list(all_migs))
            if mig is not None:
                choice = (all_migs[mig], mig)
        elif entry.startswith("GPU-"):
            uuid = _unique_prefix(entry, [g.uuid for g in gpus])
            if uuid is not None:
                choice = (next(g.index for g in gpus if g.uuid == uuid), None)
        if choice is None:
            break  # CUDA ignores an invalid entry and everything after it
        if choice not in selected:
            selected.append(choice)
    return selected


@dataclass
class _Gpu:
    index: int
    handle: Any
    info: DeviceInfo
    energy_counter: bool
    last_mj: int = 0
    last_t: float = 0.0
    energy_j: float = 0.0
    accumulator: EnergyAccumulator = field(default_factory=EnergyAccumulator)
    proc_util: bool = True
    last_seen_us: int = 0
    logged: set[str] = field(default_factory=set)
    # a MIG slice (a strict subset of the board's instances): charged ``share`` of the board
    share: float = 1.0
    board_uuid: str = ""
    gi_ids: tuple[int, ...] = ()
    dcgm: Any = None  # DcgmActivity: activity-weighted shares when configured
    board_j: float = 0.0
    attributed_j: float = 0.0


class NvmlSensor:
    """Cumulative energy of the visible NVIDIA GPUs, with per-process shares."""

    kind = KIND

    def __init__(
        self,
        nvml: Any,
        gpus: Sequence[_Gpu],
        *,
        tracked_pids: Callable[[], set[int]] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        pid_exists: Callable[[int], bool] = procfs.pid_exists,
    ) -> None:
        self._nv = nvml
        self._gpus = list(gpus)
        self._tracked_pids = tracked_pids
        self._clock = clock
        self._pid_exists = pid_exists
        self._closed = False
        now, now_us = clock(), int(wall_clock() * 1e6)
        for gpu in self._gpus:
            gpu.last_t = now
            gpu.last_seen_us = now_us

    def devices(self) -> Sequence[DeviceInfo]:
        return [g.info for g in self._gpus]

    def read(self) -> list[Reading]:
        if self._closed:
            return [Reading(g.info.device_id, None) for g in self._gpus]
        pids = self._pids()
        return [self._read_one(gpu, pids) for gpu in self._gpus]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._nv.nvmlShutdown()
        except Exception as exc:
            log.debug("nvmlShutdown failed: %s", exc)

    # -- internals -------------------------------------------------------------------
    def _log_once(self, gpu: _Gpu, key: str, message: str) -> None:
        if key not in gpu.logged:
            gpu.logged.add(key)
            log.warning("%s: %s", gpu.info.device_id, message)

    def _pids(self) -> set[int] | None:
        if self._tracked_pids is None:
            return None
        try:
            return set(self._tracked_pids())
        except Exception as exc:
            log.warning("nvml: cannot list the tracked processes: %s", exc)
            return None

    def _read_one(self, gpu: _Gpu, pids: set[int] | None) -> Reading:
        device_id = gpu.info.device_id
        t = self._clock()
        try:
            if gpu.energy_counter:
                energy_j, power_w = self._read_counter(gpu, t)
            else:
                power_w = mw_to_w(float(self._nv.nvmlDeviceGetPowerUsage(gpu.handle)))
                energy_j = gpu.accumulator.add_power(t, power_w)
        except (self._nv.NVMLError, AttributeError, ValueError, TypeError) as exc:
            self._log_once(gpu, "read", f"read failed ({exc}); reported as missing")
            return Reading(device_id, None)
        if gpu.share < 1.0 and energy_j is not None:
            mig_share = self._mig_share(gpu)
            gpu.attributed_j += (energy_j - gpu.board_j) * mig_share
            gpu.board_j = energy_j
            energy_j = gpu.attributed_j
            power_w = None if power_w is None else power_w * mig_share
        share = self._share(gpu, pids) if pids is not None else None
        return Reading(device_id, energy_j, power_w, share)

    def _read_counter(self, gpu: _Gpu, t: float) -> tuple[float | None, float | None]:
        mj = int(self._nv.nvmlDeviceGetTotalEnergyConsumption(gpu.handle))
        dt = t - gpu.last_t
        delta_j = mj_to_j(mj - gpu.last_mj)
        if delta_j < 0 or delta_j > MAX_PLAUSIBLE_POWER_W * max(dt, _MIN_DT_S):
            self._log_once(
                gpu,
                "jump",
                f"energy counter went from {gpu.last_mj} to {mj} mJ in {dt:.3g} s (driver "
                "reload or misread); that interval is not counted",
            )
            gpu.last_mj, gpu.last_t = mj, t
            return None, None
        gpu.energy_j += delta_j
        gpu.last_mj, gpu.last_t = mj, t
        return gpu.energy_j, (delta_j / dt if dt > 0 else None)

    def _mig_share(self, gpu: _Gpu) -> float:
        """The slice's share of the board now: its instances' engine activity over all
        instances' (dcgm-exporter), else the static compute-slice share."""
        if gpu.dcgm is None:
            return gpu.share
        activity = gpu.dcgm.activity()
        if not activity:
            return gpu.share
        board: dict[int, float] = {
            gi: float(v) for (uuid, gi), v in activity.items() if uuid == gpu.board_uuid
        }
        total = sum(board.values())
        if total <= 0:
            return gpu.share
        return float(sum(board.get(gi, 0.0) for gi in gpu.gi_ids) / total)

    def _share(self, gpu: _Gpu, pids: set[int]) -> float | None:
        nv = self._nv
        if gpu.proc_util:
            try:
                samples = list(nv.nvmlDeviceGetProcessUtilization(gpu.handle, gpu.last_seen_us))
            except nv.NVMLError as exc:
                if getattr(exc, "value", None) != nv.NVML_ERROR_NOT_FOUND:  # not: no samples
                    gpu.proc_util = False
                samples = []
            except AttributeError:
                gpu.proc_util = False
                samples = []
            if samples:
                gpu.last_seen_us = max(gpu.last_seen_us, *(int(s.timeStamp) for s in samples))
                total = sum(float(s.smUtil) for s in samples)
                if total > 0:
                    if not any(self._pid_exists(int(s.pid)) for s in samples):
                        return self._foreign_pids(gpu)
                    return sum(float(s.smUtil) for s in samples if int(s.pid) in pids) / total
        return self._share_from_processes(gpu, pids)

    def _share_from_processes(self, gpu: _Gpu, pids: set[int]) -> float | None:
        try:
            procs = list(self._nv.nvmlDeviceGetComputeRunningProcesses(gpu.handle))
        except (self._nv.NVMLError, AttributeError) as exc:
            self._log_once(gpu, "procs", f"cannot list GPU processes ({exc}); share unknown")
            return None
        if not procs:
            return 0.0
        if not any(self._pid_exists(int(p.pid)) for p in procs):
            return self._foreign_pids(gpu)
        mine = [p for p in procs if int(p.pid) in pids]
        if not mine:
            return 0.0
        if len(mine) == len(procs):
            return 1.0
        memory = [p.usedGpuMemory for p in procs]
        if any(m is None for m in memory) or sum(memory) <= 0:
            return len(mine) / len(procs)
        return float(sum(p.usedGpuMemory for p in mine)) / float(sum(memory))

    def _foreign_pids(self, gpu: _Gpu) -> float | None:
        self._log_once(
            gpu,
            "pidns",
            "NVML's process ids are not visible from here (a container with its own PID "
            "namespace?); the process share is left to the sampler",
        )
        return None


def _nvml_call(nv: Any, fn: str, *args: Any) -> Any:
    """``nv.<fn>(*args)``, or ``None`` when NVML cannot answer."""
    try:
        return getattr(nv, fn)(*args)
    except (nv.NVMLError, AttributeError):
        return None


def _physical_gpus(nv: Any) -> list[_Physical]:
    """The GPUs NVML can name, with their NVML index; one it cannot is logged and left out."""
    gpus = []
    for index in range(int(nv.nvmlDeviceGetCount())):
        try:
            handle = nv.nvmlDeviceGetHandleByIndex(index)
            uuid = _text(nv.nvmlDeviceGetUUID(handle))
        except nv.NVMLError as exc:
            log.warning("nvml: GPU %d cannot be read (%s); left out", index, exc)
            continue
        mode = _nvml_call(nv, "nvmlDeviceGetMigMode", handle)
        enabled = bool(mode) and int(mode[0]) == _NVML_DEVICE_MIG_ENABLE
        migs: list[str] = []
        handles: dict[str, Any] = {}
        if enabled:
            for slot in range(int(_nvml_call(nv, "nvmlDeviceGetMaxMigDeviceCount", handle) or 0)):
                mig = _nvml_call(nv, "nvmlDeviceGetMigDeviceHandleByIndex", handle, slot)
                if mig is not None:
                    migs.append(_text(nv.nvmlDeviceGetUUID(mig)))
                    handles[migs[-1]] = mig
        minor = _nvml_call(nv, "nvmlDeviceGetMinorNumber", handle)
        gpus.append(
            _Physical(
                index,
                handle,
                uuid,
                enabled,
                migs,
                handles,
                minor=minor if isinstance(minor, int) and not isinstance(minor, bool) else None,
            )
        )
    return gpus


@dataclass(frozen=True)
class MigShare:
    """A MIG slice's share of its board and the interval the split leaves open."""

    share: float
    slices: int
    total_slices: int
    gi_ids: tuple[int, ...]
    ambiguity_rel: float  # the larger side of [active share only, active share + all idle]
    idle_fraction: float
    idle_basis: str


#: The board's idle fraction when neither its power now nor its limit is known (a guess,
#: labelled as such in the device's details): widens the interval, never the value.
ASSUMED_IDLE_FRACTION = 0.3


def _legacy_gi(entry: str) -> int | None:
    parts = entry.split("/")
    return int(parts[1]) if len(parts) >= 3 and parts[1].isdigit() else None


def mig_ambiguity_rel(share: float, idle_fraction: float) -> float:
    """Relative half-width covering [share × active, share × active + idle] around
    share × board: low side ``f``, high side ``f (1 − s) / s`` (``f`` idle fraction)."""
    s = min(1.0, max(1e-9, share))
    f = min(1.0, max(0.0, idle_fraction))
    return max(f, f * (1.0 - s) / s)


def mig_share(nv: Any, gpu: _Physical, visible: list[str]) -> MigShare | None:
    """The share of the board the visible instances hold: their GPU-instance slices over
    the board's compute slices; None when they are the whole board."""
    if not gpu.mig_enabled or not visible or set(gpu.mig_uuids) <= set(visible):
        return None
    total = int(_nvml_call(nv, "nvmlDeviceGetMaxMigDeviceCount", gpu.handle) or 7)
    slices = 0
    gi_ids: list[int] = []
    for entry in visible:
        handle = gpu.mig_handles.get(entry)
        attrs = _nvml_call(nv, "nvmlDeviceGetAttributes", handle) if handle is not None else None
        count = getattr(attrs, "gpuInstanceSliceCount", None)
        slices += int(count) if isinstance(count, int) and count > 0 else 1
        gi = _nvml_call(nv, "nvmlDeviceGetGpuInstanceId", handle) if handle is not None else None
        gi = gi if isinstance(gi, int) else _legacy_gi(entry)
        if gi is not None:
            gi_ids.append(gi)
    share = min(1.0, slices / total) if total > 0 else 1.0
    power_mw = _nvml_call(nv, "nvmlDeviceGetPowerUsage", gpu.handle)
    limit_mw = _nvml_call(nv, "nvmlDeviceGetEnforcedPowerLimit", gpu.handle)
    if isinstance(power_mw, int) and isinstance(limit_mw, int) and limit_mw > 0:
        idle = min(1.0, power_mw / max(power_mw, limit_mw / 2))
        basis = "board power at start over max(that, half the power limit)"
    else:
        idle, basis = ASSUMED_IDLE_FRACTION, "assumed (board power or limit unknown)"
    return MigShare(
        share, slices, total, tuple(gi_ids), mig_ambiguity_rel(share, idle), idle, basis
    )


def _open_gpu(
    nv: Any, gpu: _Physical, visible_migs: list[str], environ: Mapping[str, str] | None = None
) -> _Gpu | None:
    handle = gpu.handle
    name = _text(nv.nvmlDeviceGetName(handle))
    memory = _nvml_call(nv, "nvmlDeviceGetMemoryInfo", handle)
    limit_mw = _nvml_call(nv, "nvmlDeviceGetEnforcedPowerLimit", handle)
    if limit_mw is None:
        limit_mw = _nvml_call(nv, "nvmlDeviceGetPowerManagementLimit", handle)
    counter = _nvml_call(nv, "nvmlDeviceGetTotalEnergyConsumption", handle)
    if counter is None and _nvml_call(nv, "nvmlDeviceGetPowerUsage", handle) is None:
        log.warning("nvml: %s (%s) reports neither energy nor power; left out", name, gpu.uuid)
        return None
    source = f"nvml:{gpu.uuid}"
    details: dict[str, Any] = {
        "index": gpu.index,
        "uuid": gpu.uuid,
        "memory_total_gb": bytes_to_gib(float(memory.total)) if memory is not None else None,
        "power_limit_w": mw_to_w(float(limit_mw)) if limit_mw is not None else None,
        "energy_counter": counter is not None,
        "mig": gpu.mig_enabled,
    }
    if gpu.mig_enabled:
        details["mig_instances"] = visible_migs
        details["counter_scope"] = "parent GPU: all of its MIG instances together"
        source += " (MIG parent GPU counter)"
    sensor_rel = COUNTER_UNCERTAINTY_REL if counter is not None else POWER_UNCERTAINTY_REL
    split = mig_share(nv, gpu, visible_migs)
    if split is None:
        info = DeviceInfo(
            device_id=f"nvml:{gpu.uuid}",
            component=Component.GPU,
            name=name,
            method=Method.MEASURED,
            source=source,
            uncertainty_rel=sensor_rel,
            details=details,
        )
        return _Gpu(gpu.index, handle, info, counter is not None, last_mj=int(counter or 0))
    url = (environ or {}).get(ENV_DCGM_URL)
    dcgm = None
    if url:
        from carbonledger.sensors.dcgm import DcgmActivity

        dcgm = DcgmActivity(url)
    rule = (
        f"activity-weighted ({DCGM_METRIC} per GPU instance from dcgm-exporter; the static "
        f"share when it is unavailable)"
        if dcgm is not None
        else f"{split.slices} of {split.total_slices} compute slices"
    )
    device_id = "nvml:" + "+".join(visible_migs)
    details.update(
        attributed_share=split.share,
        attribution="mig-activity" if dcgm is not None else "mig-compute-slices",
        board_uuid=gpu.uuid,
        gpu_instance_ids=list(split.gi_ids),
        idle_fraction=split.idle_fraction,
        idle_basis=split.idle_basis,
        warnings=[
            f"{device_id}: a MIG slice is charged a share of its board's energy "
            f"({split.share:.1%}: {rule}); NVML has no per-instance power, so the energy is "
            "attributed, not measured, and its interval spans 'active share only' to "
            "'active share plus all idle'"
        ],
    )
    info = DeviceInfo(
        device_id=device_id,
        component=Component.GPU,
        name=name,
        method=Method.ATTRIBUTED,
        source=f"nvml:{gpu.uuid} board counter × MIG share {split.share:.4g} ({rule})",
        uncertainty_rel=sensor_rel + split.ambiguity_rel,
        details=details,
    )
    return _Gpu(
        gpu.index,
        handle,
        info,
        counter is not None,
        last_mj=int(counter or 0),
        share=split.share,
        board_uuid=gpu.uuid,
        gi_ids=split.gi_ids,
        dcgm=dcgm,
    )


def _start_failure(nv: Any, exc: Exception) -> Absent:
    code = getattr(exc, "value", None)
    no_driver = {
        getattr(nv, "NVML_ERROR_DRIVER_NOT_LOADED", 9),
        getattr(nv, "NVML_ERROR_LIBRARY_NOT_FOUND", 12),
    }
    if code in no_driver:
        reason = f"NVML could not start: no NVIDIA driver ({exc})"
    elif code == getattr(nv, "NVML_ERROR_NO_PERMISSION", 4):
        reason = f"NVML could not start: permission denied ({exc})"
    else:
        reason = f"NVML could not start: {exc}"
    return Absent(
        KIND,
        reason,
        fix="install the NVIDIA driver; in a container, start it with the NVIDIA Container "
        "Toolkit (docker run --gpus all ...)",
        component=Component.GPU,
    )


def probe(
    ctx: ProbeContext,
    *,
    clock: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], float] = time.time,
    pid_exists: Callable[[int], bool] = procfs.pid_exists,
) -> NvmlSensor | Absent:
    """Open the NVIDIA GPUs visible to this process, or say why there are none."""
    if not _presence.nvidia_driver_present():
        # importing pynvml and failing nvmlInit costs tens of ms at every start()
        return Absent(
            KIND,
            _presence.NVIDIA_NO_DRIVER,
            fix=_presence.NVIDIA_NO_DRIVER_FIX,
            component=Component.GPU,
        )
    try:
        import pynvml as nv
    except ImportError:
        return Absent(
            KIND,
            "nvidia-ml-py not installed",
            fix="pip install 'carbonledger[nvidia]'",
            component=Component.GPU,
        )
    try:
        nv.nvmlInit()
    except nv.NVMLError as exc:
        return _start_failure(nv, exc)
    try:
        return _open(nv, ctx, clock=clock, wall_clock=wall_clock, pid_exists=pid_exists)
    except Exception as exc:
        _nvml_call(nv, "nvmlShutdown")
        return Absent(KIND, f"NVML failed while listing GPUs: {exc}", component=Component.GPU)


def _open(
    nv: Any,
    ctx: ProbeContext,
    *,
    clock: Callable[[], float],
    wall_clock: Callable[[], float],
    pid_exists: Callable[[int], bool],
) -> NvmlSensor | Absent:
    gpus = _physical_gpus(nv)
    if not gpus:
        nv.nvmlShutdown()
        return Absent(KIND, "NVML found no NVIDIA GPU", component=Component.GPU)
    raw = ctx.environ.get("CUDA_VISIBLE_DEVICES")
    entries = parse_visible_devices(raw)
    step = parse_slurm_gpus(ctx.environ)
    if step is not None:
        entries = _with_slurm(entries, step, gpus)
    if entries is None:
        selected: list[tuple[int, str | None]] = [(g.index, None) for g in gpus]
    else:
        selected = _select(entries, gpus)
        if (
            any(e.isdigit() for e in entries)
            and len({_text(nv.nvmlDeviceGetName(g.handle)) for g in gpus}) > 1
        ) and ctx.environ.get("CUDA_DEVICE_ORDER") != "PCI_BUS_ID":
            log.warning(
                "nvml: CUDA_VISIBLE_DEVICES uses indices on a machine with different GPU "
                "models; they are read in PCI bus order: set CUDA_DEVICE_ORDER=PCI_BUS_ID "
                "so that CUDA agrees"
            )
    if not selected:
        nv.nvmlShutdown()
        return Absent(
            KIND,
            f"no GPU visible to this process (CUDA_VISIBLE_DEVICES={raw!r}"
            + (f", Slurm's GPUs {step}" if step is not None else "")
            + ")",
            fix="unset or widen CUDA_VISIBLE_DEVICES to measure GPUs",
            component=Component.GPU,
        )
    # One device per physical GPU; MIG instances are gathered under their parent.
    order: list[int] = []
    migs: dict[int, list[str] | None] = {}
    for index, mig in selected:
        if index not in migs:
            order.append(index)
            migs[index] = []
        current = migs[index]
        if mig is None:
            migs[index] = None  # the whole GPU
        elif current is not None and mig not in current:
            current.append(mig)
    opened = []
    by_index = {g.index: g for g in gpus}
    for index in order:
        gpu = by_index[index]
        visible = migs[index]
        gpu_state = _open_gpu(nv, gpu, gpu.mig_uuids if visible is None else visible, ctx.environ)
        if gpu_state is not None:
            opened.append(gpu_state)
    if not opened:
        nv.nvmlShutdown()
        return Absent(
            KIND,
            "NVML can read neither energy nor power on the visible GPUs",
            component=Component.GPU,
        )
    return NvmlSensor(
        nv,
        opened,
        tracked_pids=ctx.tracked_pids,
        clock=clock,
        wall_clock=wall_clock,
        pid_exists=pid_exists,
    )
