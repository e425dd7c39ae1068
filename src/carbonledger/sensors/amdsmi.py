"""AMD GPU energy through AMD SMI (the ``amdsmi`` Python package of ROCm, imported lazily).

Energy: ``amdsmi_get_energy_count`` returns an accumulator (``energy_accumulator``; the
key was ``power`` before ROCm 6.1) and its ``counter_resolution`` in µJ per tick, so
energy = accumulator × resolution µJ, read by differences. Where it is not supported
(virtual machine guests, older parts), ``amdsmi_get_power_info`` power in W
(``socket_power``, else ``current_socket_power`` on MI300, else ``average_socket_power``)
is integrated by the trapezoid rule between reads.

Which GPUs: those visible under ``ROCR_VISIBLE_DEVICES``, else ``HIP_VISIBLE_DEVICES``,
else ``CUDA_VISIBLE_DEVICES`` (HIP honours it too), from ``ctx.environ``: indices in AMD
SMI's order or device UUIDs; unset means all, empty means none. No per-process share is
reported (``process_share`` is ``None``: the sampler decides).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from carbonledger.records import Component, DeviceInfo, Method, Reading
from carbonledger.sampling.integrate import EnergyAccumulator
from carbonledger.sensors import _presence
from carbonledger.sensors.base import Absent, ProbeContext
from carbonledger.units import bytes_to_gib, uj_to_j

__all__ = ["COUNTER_UNCERTAINTY_REL", "POWER_UNCERTAINTY_REL", "AmdSmiSensor", "probe"]

log = logging.getLogger(__name__)

KIND = "amdsmi"
# AMD publishes no accuracy figure for its GPU energy accumulator or power sensor; these
# are assumed to be comparable with NVML's (see docs/methodology/sensors.md).
COUNTER_UNCERTAINTY_REL = 0.10
POWER_UNCERTAINTY_REL = 0.15
MAX_PLAUSIBLE_POWER_W = 5000.0
_MIN_DT_S = 1e-3
_UNSUPPORTED = 0xFFFFFFFF  # AMD SMI marks unsupported struct members with UINT32_MAX
_VISIBLE_VARS = ("ROCR_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES")


def _energy_uj(reading: Any) -> float:
    """µJ from an ``amdsmi_get_energy_count`` result."""
    ticks = reading.get("energy_accumulator", reading.get("power"))
    resolution = reading["counter_resolution"]
    value = float(ticks) * float(resolution)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"invalid energy count {reading!r}")
    return value


def _power_w(info: Any) -> float:
    """W from an ``amdsmi_get_power_info`` result."""
    for key in ("socket_power", "current_socket_power", "average_socket_power"):
        value = info.get(key)
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if is_number and 0 <= value < _UNSUPPORTED:
            return float(value)
    raise ValueError(f"no power reading in {info!r}")


@dataclass
class _Gpu:
    handle: Any
    info: DeviceInfo
    energy_counter: bool
    last_uj: float = 0.0
    last_t: float = 0.0
    energy_j: float = 0.0
    accumulator: EnergyAccumulator = field(default_factory=EnergyAccumulator)
    logged: set[str] = field(default_factory=set)


class AmdSmiSensor:
    """Cumulative energy of the visible AMD GPUs."""

    kind = KIND

    def __init__(
        self, smi: Any, gpus: Sequence[_Gpu], *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._smi = smi
        self._gpus = list(gpus)
        self._clock = clock
        self._closed = False
        now = clock()
        for gpu in self._gpus:
            gpu.last_t = now

    def devices(self) -> Sequence[DeviceInfo]:
        return [g.info for g in self._gpus]

    def read(self) -> list[Reading]:
        return [self._read_one(g) for g in self._gpus]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._smi.amdsmi_shut_down()
        except Exception as exc:
            log.debug("amdsmi_shut_down failed: %s", exc)

    def _log_once(self, gpu: _Gpu, key: str, message: str) -> None:
        if key not in gpu.logged:
            gpu.logged.add(key)
            log.warning("%s: %s", gpu.info.device_id, message)

    def _read_one(self, gpu: _Gpu) -> Reading:
        device_id = gpu.info.device_id
        if self._closed:
            return Reading(device_id, None)
        t = self._clock()
        try:
            if gpu.energy_counter:
                uj = _energy_uj(self._smi.amdsmi_get_energy_count(gpu.handle))
            else:
                power_w = _power_w(self._smi.amdsmi_get_power_info(gpu.handle))
                return Reading(device_id, gpu.accumulator.add_power(t, power_w), power_w)
        except Exception as exc:
            self._log_once(gpu, "read", f"read failed ({exc}); reported as missing")
            return Reading(device_id, None)
        dt = t - gpu.last_t
        delta_j = uj_to_j(uj - gpu.last_uj)
        if delta_j < 0 or delta_j > MAX_PLAUSIBLE_POWER_W * max(dt, _MIN_DT_S):
            self._log_once(
                gpu, "jump", f"energy counter jumped by {delta_j:.6g} J in {dt:.3g} s; not counted"
            )
            gpu.last_uj, gpu.last_t = uj, t
            return Reading(device_id, None)
        gpu.energy_j += delta_j
        gpu.last_uj, gpu.last_t = uj, t
        return Reading(device_id, gpu.energy_j, delta_j / dt if dt > 0 else None)


def _call(smi: Any, fn: str, *args: Any) -> Any:
    try:
        return getattr(smi, fn)(*args)
    except Exception:
        return None


def _visible(environ: dict[str, str], uuids: list[str]) -> tuple[list[int], str | None]:
    """Indices of the visible GPUs, and the variable that decided (None: all visible)."""
    for var in _VISIBLE_VARS:
        if var in environ:
            chosen: list[int] = []
            for entry in (e.strip() for e in environ[var].split(",") if environ[var].strip()):
                if entry.isdigit() and int(entry) < len(uuids):
                    index = int(entry)
                elif entry in uuids:
                    index = uuids.index(entry)
                else:
                    break
                if index not in chosen:
                    chosen.append(index)
            return chosen, var
    return list(range(len(uuids))), None


def _open_gpu(smi: Any, index: int, handle: Any, uuid: str) -> _Gpu | None:
    asic = _call(smi, "amdsmi_get_gpu_asic_info", handle) or {}
    board = _call(smi, "amdsmi_get_gpu_board_info", handle) or {}
    name = str(asic.get("market_name") or board.get("product_name") or "AMD GPU")
    vram_type = getattr(getattr(smi, "AmdSmiMemoryType", None), "VRAM", 0)
    memory = _call(smi, "amdsmi_get_gpu_memory_total", handle, vram_type)
    energy = _call(smi, "amdsmi_get_energy_count", handle)
    baseline: float | None
    try:
        baseline = _energy_uj(energy) if energy is not None else None
    except (KeyError, TypeError, ValueError):
        baseline = None
    if baseline is None:
        try:
            _power_w(_call(smi, "amdsmi_get_power_info", handle) or {})
        except ValueError:
            log.warning("amdsmi: %s (%s) reports neither energy nor power; left out", name, uuid)
            return None
    info = DeviceInfo(
        device_id=f"amdsmi:{uuid}",
        component=Component.GPU,
        name=name,
        method=Method.MEASURED,
        source=f"amdsmi:{uuid}",
        uncertainty_rel=COUNTER_UNCERTAINTY_REL if baseline is not None else POWER_UNCERTAINTY_REL,
        details={
            "index": index,
            "uuid": uuid,
            "memory_total_gb": bytes_to_gib(float(memory)) if memory is not None else None,
            "energy_counter": baseline is not None,
        },
    )
    return _Gpu(handle, info, baseline is not None, last_uj=baseline or 0.0)


def probe(
    ctx: ProbeContext, *, clock: Callable[[], float] = time.monotonic
) -> AmdSmiSensor | Absent:
    """Open the AMD GPUs visible to this process, or say why there are none."""
    if not _presence.amd_driver_present():
        return Absent(
            KIND, _presence.AMD_NO_DRIVER, fix=_presence.AMD_NO_DRIVER_FIX, component=Component.GPU
        )
    try:
        import amdsmi as smi
    except ImportError:
        return Absent(
            KIND,
            "amdsmi not installed",
            fix="pip install 'carbonledger[amd]' (the amdsmi version must match the "
            "installed ROCm; ROCm also ships it under /opt/rocm/share/amd_smi)",
            component=Component.GPU,
        )
    try:
        smi.amdsmi_init()
    except Exception as exc:
        return Absent(
            KIND,
            f"AMD SMI could not start: no AMD GPU driver ({exc})",
            fix="install ROCm and load the amdgpu driver; in a container pass /dev/kfd and "
            "/dev/dri",
            component=Component.GPU,
        )
    try:
        handles = list(smi.amdsmi_get_processor_handles())
        uuids = [str(smi.amdsmi_get_gpu_device_uuid(h)) for h in handles]
        if not handles:
            _call(smi, "amdsmi_shut_down")
            return Absent(KIND, "AMD SMI found no AMD GPU", component=Component.GPU)
        visible, var = _visible(ctx.environ, uuids)
        if not visible:
            _call(smi, "amdsmi_shut_down")
            return Absent(
                KIND,
                f"no GPU visible to this process ({var}={ctx.environ.get(var or '')!r})",
                fix=f"unset or widen {var} to measure GPUs",
                component=Component.GPU,
            )
        gpus = [g for i in visible if (g := _open_gpu(smi, i, handles[i], uuids[i])) is not None]
    except Exception as exc:
        _call(smi, "amdsmi_shut_down")
        return Absent(KIND, f"AMD SMI failed while listing GPUs: {exc}", component=Component.GPU)
    if not gpus:
        _call(smi, "amdsmi_shut_down")
        return Absent(
            KIND,
            "AMD SMI can read neither energy nor power on the visible GPUs",
            component=Component.GPU,
        )
    return AmdSmiSensor(smi, gpus, clock=clock)
