"""Modelled memory power, for machines without a RAPL DRAM counter.

    P = W_PER_GB × memory_gb            (Green Algorithms: 0.3725 W per GB)

``memory_gb`` is ``ctx.memory_gb`` when set, else the installed memory from
``/proc/meminfo`` (psutil elsewhere) in GiB (2**30 bytes, the "GB" in which memory is sold).
The power is constant: memory draws power whether or not it is used, and the per-GB
figure is an average over activity. Energy accumulates per read: ``E += P × Δt``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from carbonledger import procfs
from carbonledger.records import Component, DeviceInfo, Method, Reading
from carbonledger.sensors.base import Absent, ProbeContext
from carbonledger.units import bytes_to_gib

__all__ = ["DEVICE_ID", "UNCERTAINTY_REL", "W_PER_GB", "RamModelSensor", "probe"]

KIND = "ram_model"
DEVICE_ID = "model:ram"
# Lannelongue, Grealey & Inouye (2021), "Green Algorithms: Quantifying the Carbon Footprint
# of Computation", Advanced Science 8(12):2100707: 0.3725 W per GB of memory available.
W_PER_GB = 0.3725
# Per-GB DRAM power varies with generation (DDR3 to DDR5), DIMM count and size, and activity
# (idle to fully loaded differs by a factor of 2 or more): a wide band.
UNCERTAINTY_REL = 0.5


def installed_memory_gb() -> float:
    """Installed memory in GiB (``/proc/meminfo``, or psutil elsewhere)."""
    return bytes_to_gib(float(procfs.memory_total_bytes()))


class RamModelSensor:
    """Cumulative modelled memory energy at a constant ``power_w``."""

    kind = KIND

    def __init__(
        self, device: DeviceInfo, power_w: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._device = device
        self.power_w = power_w
        self._clock = clock
        self._last_t = clock()
        self.energy_j = 0.0

    def devices(self) -> Sequence[DeviceInfo]:
        return [self._device]

    def read(self) -> list[Reading]:
        t = self._clock()
        self.energy_j += self.power_w * max(0.0, t - self._last_t)
        self._last_t = t
        return [Reading(DEVICE_ID, self.energy_j, self.power_w)]

    def close(self) -> None:
        pass


def probe(
    ctx: ProbeContext,
    *,
    clock: Callable[[], float] = time.monotonic,
    memory_gb: Callable[[], float] = installed_memory_gb,
) -> RamModelSensor | Absent:
    """A RAM model for ``ctx.memory_gb`` GB, or the installed memory."""
    if ctx.memory_gb is not None:
        size_gb, size_source = ctx.memory_gb, "user:memory_gb"
    else:
        try:
            size_gb, size_source = memory_gb(), "installed memory"
        except Exception as exc:
            return Absent(
                KIND,
                f"cannot read the installed memory: {exc}",
                fix="set CARBONLEDGER_MEMORY_GB",
                component=Component.RAM,
            )
    if not size_gb > 0:
        return Absent(KIND, f"memory size {size_gb} GB is not positive", component=Component.RAM)
    power_w = W_PER_GB * size_gb
    device = DeviceInfo(
        device_id=DEVICE_ID,
        component=Component.RAM,
        name=f"{size_gb:.1f} GB RAM",
        method=Method.MODELED,
        source=f"green-algorithms:{W_PER_GB}W/GB",
        uncertainty_rel=UNCERTAINTY_REL,
        details={
            "memory_gb": size_gb,
            "memory_source": size_source,
            "w_per_gb": W_PER_GB,
            "power_w": power_w,
            "formula": "P = 0.3725 W/GB × memory_gb",
        },
    )
    return RamModelSensor(device, power_w, clock=clock)
