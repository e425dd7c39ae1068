"""What pricing and listings need from a run's samples, summed where the samples live.

A backend that can aggregate (SQLite: ``SUM ... GROUP BY`` over its index) implements the
optional :class:`AggregatingLedger` methods; every other backend gets the same answers
from :func:`totals_from_samples` and :func:`steps_from_samples`, computed over
``samples()``. The dispatching functions (:func:`run_totals`, :func:`many_run_totals`,
:func:`energy_by_step`) are what callers use, so pricing never needs to know which.

The results are exact aggregates (sums and counts), never estimates: a footprint priced
from them equals the one priced sample by sample, up to the order of floating-point
additions.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from carbonledger.records import Sample

if TYPE_CHECKING:
    from carbonledger.store.base import Ledger

__all__ = [
    "CHART_POINTS",
    "OUTSIDE",
    "AggregatingLedger",
    "DeviceTotals",
    "StepEnergy",
    "downsampled",
    "downsampled_from_samples",
    "energy_by_step",
    "many_run_totals",
    "run_totals",
    "steps_from_samples",
    "totals_from_samples",
]

OUTSIDE = -1
"""The step key of samples that lie wholly outside the series (priced at the average)."""


@dataclass(frozen=True)
class DeviceTotals:
    """One device's samples in one run, summed.

    ``host_energy_j``/``energy_j`` sum the known values (None when none is known);
    ``missing`` counts samples whose ``energy_j`` is unknown; ``covered_s`` is the time of
    the samples whose ``host_energy_j`` is known; ``t_end`` the latest sample end.
    """

    device_id: str
    host_energy_j: float | None
    energy_j: float | None
    samples: int
    missing: int
    covered_s: float
    t_end: float | None


@dataclass(frozen=True)
class StepEnergy:
    """A run's known energy per step of an intensity series.

    ``steps[k] = (Σ energy_j, count of non-zero samples)`` over the samples with known
    energy lying wholly inside step ``k`` (``[bounds[k], bounds[k+1])``); key
    :data:`OUTSIDE` holds those wholly outside the series. ``rest`` are the samples that
    straddle a step boundary or last no time: the caller prices them one by one.
    """

    steps: dict[int, tuple[float, int]] = field(default_factory=dict)
    rest: tuple[Sample, ...] = ()


@runtime_checkable
class AggregatingLedger(Protocol):
    """Optional ledger methods that sum samples in the store (see the module doc)."""

    def run_totals(self, run_id: str) -> dict[str, DeviceTotals]: ...

    def many_run_totals(self, run_ids: Sequence[str]) -> dict[str, dict[str, DeviceTotals]]: ...

    def energy_by_step(self, run_id: str, bounds: Sequence[float]) -> StepEnergy: ...


# -- from samples (the generic fallback, and the reference the backends must equal) ------
def totals_from_samples(samples: Iterable[Sample]) -> dict[str, DeviceTotals]:
    """Per device totals, devices in the order they first appear."""
    acc: dict[str, list[float | int | None]] = {}
    for s in samples:
        row = acc.get(s.device_id)
        if row is None:
            row = acc[s.device_id] = [None, None, 0, 0, 0.0, None]
        if s.host_energy_j is not None:
            row[0] = s.host_energy_j if row[0] is None else row[0] + s.host_energy_j
            row[4] = float(row[4] or 0.0) + s.duration_s
        if s.energy_j is not None:
            row[1] = s.energy_j if row[1] is None else row[1] + s.energy_j
        else:
            row[3] = int(row[3] or 0) + 1
        row[2] = int(row[2] or 0) + 1
        row[5] = s.t_end if row[5] is None else max(float(row[5]), s.t_end)
    return {
        device_id: DeviceTotals(
            device_id,
            None if r[0] is None else float(r[0]),
            None if r[1] is None else float(r[1]),
            int(r[2] or 0),
            int(r[3] or 0),
            float(r[4] or 0.0),
            None if r[5] is None else float(r[5]),
        )
        for device_id, r in acc.items()
    }


def steps_from_samples(samples: Iterable[Sample], bounds: Sequence[float]) -> StepEnergy:
    """Known energy per step of ``bounds`` (ascending step starts, then the series' end)."""
    steps: dict[int, list[float | int]] = {}
    rest: list[Sample] = []
    first, last = bounds[0], bounds[-1]
    for s in samples:
        if s.energy_j is None:
            continue
        if s.t_end <= s.t_start:
            rest.append(s)
            continue
        if s.t_end <= first or s.t_start >= last:
            k = OUTSIDE
        else:
            k = bisect.bisect_right(bounds, s.t_start) - 1
            if k < 0 or s.t_end > bounds[k + 1]:
                rest.append(s)
                continue
        row = steps.setdefault(k, [0.0, 0])
        row[0] += s.energy_j
        row[1] += 1 if s.energy_j != 0 else 0
    return StepEnergy({k: (float(v[0]), int(v[1])) for k, v in steps.items()}, tuple(rest))


# -- dispatch ----------------------------------------------------------------------------
def run_totals(ledger: Ledger, run_id: str) -> dict[str, DeviceTotals]:
    """The run's per-device totals: the ledger's own aggregate, else from its samples."""
    own = getattr(ledger, "run_totals", None)
    if callable(own):
        found: dict[str, DeviceTotals] = own(run_id)
        return found
    return totals_from_samples(ledger.samples(run_id))


def many_run_totals(ledger: Ledger, run_ids: Sequence[str]) -> dict[str, dict[str, DeviceTotals]]:
    """:func:`run_totals` of many runs at once (one query where the ledger can)."""
    own = getattr(ledger, "many_run_totals", None)
    if callable(own):
        found: dict[str, dict[str, DeviceTotals]] = own(run_ids)
        return found
    return {run_id: run_totals(ledger, run_id) for run_id in run_ids}


def energy_by_step(ledger: Ledger, run_id: str, bounds: Sequence[float]) -> StepEnergy:
    """The run's known energy per series step (see :class:`StepEnergy`)."""
    own = getattr(ledger, "energy_by_step", None)
    if callable(own):
        found: StepEnergy = own(run_id, bounds)
        return found
    return steps_from_samples(ledger.samples(run_id), bounds)


CHART_POINTS = 2000
"""Points per device a chart draws at most: a month at 1 s is 2.6 million samples."""


def downsampled_from_samples(samples: Sequence[Sample], points: int) -> list[Sample]:
    """At most ``points`` samples per device: the run's time cut into ``points`` equal
    buckets, each bucket's samples merged into one (energies summed, None only when all
    are unknown), so energy over the buckets is exact and power is their mean."""
    if not samples:
        return []
    t0 = min(s.t_start for s in samples)
    t1 = max(s.t_end for s in samples)
    width = (t1 - t0) / points if t1 > t0 else 1.0
    merged: dict[tuple[str, int], list[Sample]] = {}
    for s in samples:
        bucket = min(points - 1, int((s.t_start - t0) / width))
        merged.setdefault((s.device_id, bucket), []).append(s)
    out = []
    for (device_id, _), rows in merged.items():
        hosts = [r.host_energy_j for r in rows if r.host_energy_j is not None]
        energies = [r.energy_j for r in rows if r.energy_j is not None]
        out.append(
            Sample(
                device_id,
                min(r.t_start for r in rows),
                max(r.t_end for r in rows),
                sum(hosts) if hosts else None,
                sum(energies) if energies else None,
            )
        )
    out.sort(key=lambda s: (s.t_start, s.device_id))
    return out


def downsampled(ledger: Ledger, run_id: str, points: int = CHART_POINTS) -> list[Sample]:
    """The run's samples for drawing: all of them when few, else merged into ``points``
    time buckets per device (:func:`downsampled_from_samples`; in SQL where it can)."""
    own = getattr(ledger, "downsampled_samples", None)
    if callable(own):
        found: list[Sample] = own(run_id, points)
        return found
    samples = ledger.samples(run_id)
    devices = {s.device_id for s in samples}
    if len(samples) <= points * max(1, len(devices)):
        return samples
    return downsampled_from_samples(samples, points)
