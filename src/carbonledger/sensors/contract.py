"""The sensor contract as a check that plug-in authors can run on their own sensor."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

from carbonledger.records import DeviceInfo, Reading
from carbonledger.sensors.base import Absent, ProbeContext, Sensor

__all__ = ["sensor_contract_problems"]


def sensor_contract_problems(
    sensor_or_factory: Sensor | Callable[[ProbeContext], Sensor | Absent],
    *,
    ctx: ProbeContext | None = None,
    reads: int = 3,
    pause_s: float = 0.01,
) -> list[str]:
    """Every way ``sensor_or_factory`` breaks the sensor contract (empty when it keeps it).

    A factory is probed with ``ctx`` first (an :class:`Absent` is a valid answer and ends
    the check). The sensor is read ``reads`` times: every device gets one reading per read,
    energies are cumulative (never decreasing) or ``None``, and ``close()`` may be called
    twice.
    """
    problems: list[str] = []
    target: object = sensor_or_factory
    if not hasattr(target, "read") and callable(target):
        try:
            target = target(ctx or ProbeContext(sysfs_root=Path("/sys")))
        except Exception as exc:
            return [f"probe raised {exc!r}; it should return an Absent instead"]
        if isinstance(target, Absent):
            return [] if target.reason else ["Absent without a reason"]
    from carbonledger.sensors.registry import sensor_contract_problem

    problem = sensor_contract_problem(target)
    if problem is not None:
        return [problem]
    sensor: Sensor = target  # type: ignore[assignment]
    devices = list(sensor.devices())
    if not devices:
        problems.append("devices() is empty: probe should have returned an Absent")
    if not all(isinstance(d, DeviceInfo) for d in devices):
        problems.append("devices() must return DeviceInfo objects")
        return problems
    ids = [d.device_id for d in devices]
    if len(set(ids)) != len(ids):
        problems.append(f"device ids are not unique: {ids}")
    last: dict[str, float] = {}
    for i in range(reads):
        if i:
            time.sleep(pause_s)
        readings = sensor.read()
        if not all(isinstance(r, Reading) for r in readings):
            problems.append("read() must return Reading objects")
            break
        seen = [r.device_id for r in readings]
        if sorted(seen) != sorted(ids):
            problems.append(f"read() gave readings for {seen}, expected one for each of {ids}")
        for r in readings:
            if r.energy_j is None:
                continue
            if not math.isfinite(r.energy_j) or r.energy_j < 0:
                problems.append(f"{r.device_id}: energy {r.energy_j!r} is not a finite J >= 0")
            elif r.energy_j < last.get(r.device_id, 0.0):
                problems.append(f"{r.device_id}: cumulative energy went backwards")
            else:
                last[r.device_id] = r.energy_j
    try:
        sensor.close()
        sensor.close()
    except Exception as exc:
        problems.append(f"close() twice raised {exc!r}")
    return problems
