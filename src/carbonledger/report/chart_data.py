"""The numbers charts draw, as pure functions (no matplotlib): power per bin from energy
samples, per component and in total, and a run's time window."""

from __future__ import annotations

import math
from collections.abc import Sequence

from carbonledger.lifecycle.footprint import Footprint
from carbonledger.records import DeviceInfo, Sample
from carbonledger.timeutil import parse_instant_or_none

__all__ = ["binned_power", "binned_power_total", "component_power", "run_window"]


def binned_power(samples: Sequence[Sample], t0: float, t1: float, bins: int) -> list[float | None]:
    """Mean power (W) of one device in each of ``bins`` equal bins of [t0, t1).

    A sample's energy is spread evenly over its interval (power = energy / duration). A
    bin's power is the energy that falls in it over the time its samples cover; it is None
    where no sample covers it or a sample overlapping it failed (``energy_j`` None).
    """
    if bins < 1 or not t1 > t0:
        raise ValueError("need at least one bin over a positive interval")
    span = t1 - t0
    width = span / bins
    energy = [0.0] * bins
    covered = [0.0] * bins
    failed = [False] * bins
    last_bin = bins - 1
    for sample in samples:
        # relative to t0: differences of nearby unix times are exact, bin edges stay precise
        start, end = sample.t_start - t0, sample.t_end - t0
        duration = end - start
        a = start if start > 0.0 else 0.0
        b = end if end < span else span
        if b <= a or duration <= 0:
            continue
        first = int(a / width)
        first = first if first < last_bin else last_bin
        last = math.ceil(b / width) - 1
        last = last if last < last_bin else last_bin
        value = sample.energy_j
        # the same arithmetic as min()/max(), written out: this loop is the charts' hot path
        for i in range(first, last + 1):
            lo, hi = i * width, (i + 1) * width
            lo = a if a > lo else lo
            hi = b if b < hi else hi
            if hi <= lo:
                continue
            if value is None:
                failed[i] = True
                continue
            energy[i] += value * (hi - lo) / duration
            covered[i] += hi - lo
    return [None if failed[i] or covered[i] <= 0 else energy[i] / covered[i] for i in range(bins)]


def _add(x: float | None, y: float | None) -> float | None:
    return None if x is None or y is None else x + y


def component_power(
    samples: Sequence[Sample],
    devices: Sequence[DeviceInfo],
    t0: float,
    t1: float,
    bins: int,
) -> dict[str, list[float | None]]:
    """Power per component (sum of its devices) in each bin; None where a device lacks data."""
    component_of = {d.device_id: str(d.component) for d in devices}
    by_device: dict[str, list[Sample]] = {}
    for sample in samples:
        by_device.setdefault(sample.device_id, []).append(sample)
    out: dict[str, list[float | None]] = {}
    for device_id, device_samples in by_device.items():
        component = component_of.get(device_id, "other")
        powers = binned_power(device_samples, t0, t1, bins)
        if component not in out:
            out[component] = powers
            continue
        out[component] = [_add(x, y) for x, y in zip(out[component], powers, strict=True)]
    return out


def binned_power_total(
    samples: Sequence[Sample], t0: float, t1: float, bins: int
) -> list[float | None]:
    """Total power of all devices in each bin (None where any device lacks data)."""
    by_device: dict[str, list[Sample]] = {}
    for sample in samples:
        by_device.setdefault(sample.device_id, []).append(sample)
    total: list[float | None] = [0.0] * bins
    for device_samples in by_device.values():
        powers = binned_power(device_samples, t0, t1, bins)
        total = [_add(x, y) for x, y in zip(total, powers, strict=True)]
    return total


def run_window(fp: Footprint, samples: Sequence[Sample]) -> tuple[float, float] | None:
    if samples:
        return (min(s.t_start for s in samples), max(s.t_end for s in samples))
    start, end = parse_instant_or_none(fp.started_at), parse_instant_or_none(fp.ended_at)
    if start is None or end is None or not end > start:
        return None
    return (start, end)
