"""The sensor protocol: what every energy source (RAPL, NVML, amdsmi, models) provides.

A sensor factory probes the machine and returns either a :class:`Sensor` or an
:class:`Absent` that says why nothing was found and how to fix it. A sensor reports
cumulative, monotonic energy per device since it was opened; it unwraps counters and
integrates power itself (with :mod:`carbonledger.sampling.integrate`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from carbonledger.records import Component, DeviceInfo, Reading

__all__ = ["Absent", "ProbeContext", "Sensor", "SensorFactory"]


@dataclass(frozen=True)
class ProbeContext:
    """What a sensor factory may use to find and configure its devices."""

    sysfs_root: Path = Path("/sys")
    cpu_tdp_w: float | None = None
    memory_gb: float | None = None
    # The pids of the tracked process tree, for sensors that attribute per process (NVML).
    tracked_pids: Callable[[], set[int]] | None = None
    environ: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Absent:
    """A sensor kind that found nothing to measure: why, and how to fix it."""

    kind: str
    reason: str
    fix: str | None = None
    component: Component | None = None


@runtime_checkable
class Sensor(Protocol):
    """A source of cumulative energy readings for one or more devices."""

    kind: str

    def devices(self) -> Sequence[DeviceInfo]:
        """The devices this sensor reports on; fixed once the sensor is opened."""
        ...

    def read(self) -> list[Reading]:
        """One reading per device. A failed device gives ``energy_j=None``.

        May raise; the sampler records the error, logs it once and drops the sensor.
        """
        ...

    def close(self) -> None:
        """Release handles (NVML shutdown, file handles). Safe to call twice."""
        ...


class SensorFactory(Protocol):
    def __call__(self, ctx: ProbeContext) -> Sensor | Absent: ...
