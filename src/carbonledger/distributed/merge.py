"""Pure maths of a job's measurements: one timeline per (node, device), and span fills.

A device of a node may have been measured by several processes one after another (a
measurer that stopped, a standby that took over). :func:`merge_samples` joins their
samples into one timeline and counts any stretch two of them cover only once (which the
measurer lock should make impossible; the caller reports it). :func:`energy_between`
gives a timeline's energy over a window, pro-rated inside a sample (even power assumed),
which is how a non-measuring rank's span gets its energy.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from carbonledger.records import Sample

__all__ = [
    "Timeline",
    "energy_between",
    "fill_gaps",
    "fill_samples",
    "fill_stretches",
    "merge_samples",
    "quadrature",
    "uncovered_s",
]


@dataclass(frozen=True)
class Timeline:
    """One device's samples on one node, sorted and without overlaps."""

    samples: tuple[Sample, ...]
    overlap_s: float = 0.0  # time two processes both measured (counted once)

    @property
    def starts(self) -> list[float]:
        return [s.t_start for s in self.samples]


def merge_samples(groups: Iterable[Sequence[Sample]]) -> Timeline:
    """Samples of one device from several runs as one timeline; overlaps counted once.

    Samples are taken in start order; a sample that starts before the timeline's end
    keeps only its part after it (pro-rated), so no second counts twice.
    """
    rows = sorted(
        (s for g in groups for s in g if s.t_end > s.t_start), key=lambda s: (s.t_start, s.t_end)
    )
    out: list[Sample] = []
    covered = -math.inf
    overlap = 0.0
    for s in rows:
        if s.t_end <= covered:
            overlap += s.duration_s
            continue
        if s.t_start < covered:
            keep = (s.t_end - covered) / s.duration_s
            overlap += covered - s.t_start
            s = replace(
                s,
                t_start=covered,
                host_energy_j=None if s.host_energy_j is None else s.host_energy_j * keep,
                energy_j=None if s.energy_j is None else s.energy_j * keep,
            )
        out.append(s)
        covered = s.t_end
    return Timeline(tuple(out), overlap)


def energy_between(
    timeline: Timeline, a: float, b: float, starts: list[float] | None = None
) -> tuple[float | None, float]:
    """(energy over (a, b), fraction of (a, b) the timeline covers). Energy is None when
    no known sample touches the window."""
    if b <= a:
        return None, 0.0
    rows = timeline.samples
    keys = starts if starts is not None else timeline.starts
    i = max(0, bisect.bisect_right(keys, a) - 1)
    total = 0.0
    covered = 0.0
    seen = False
    while i < len(rows) and rows[i].t_start < b:
        s = rows[i]
        i += 1
        lo, hi = max(a, s.t_start), min(b, s.t_end)
        if hi <= lo or s.energy_j is None:
            continue
        total += s.energy_j * (hi - lo) / s.duration_s
        covered += hi - lo
        seen = True
    return (total if seen else None), covered / (b - a)


def uncovered_s(timeline: Timeline, a: float, b: float) -> float:
    """Seconds of (a, b) no known sample covers."""
    if b <= a:
        return 0.0
    _, frac = energy_between(timeline, a, b)
    return (b - a) * (1.0 - frac)


def quadrature(halves: Iterable[float]) -> float:
    """√(Σ hᵢ²): independent errors of a sum."""
    return math.sqrt(math.fsum(h * h for h in halves))


def fill_stretches(
    blocks: Iterable[tuple[float, float]], a: float, b: float
) -> list[tuple[float, float]]:
    """The stretches of (a, b) that no ``(start, end)`` block covers, longer than 1 µs;
    blocks in start order (a timeline's samples, or runs of samples without gaps)."""
    stretches: list[tuple[float, float]] = []
    cursor = a
    for u, v in blocks:
        if u > cursor:
            stretches.append((cursor, min(u, b)))
        cursor = max(cursor, v)
    if cursor < b:
        stretches.append((cursor, b))
    return [(u, v) for u, v in stretches if v - u > 1e-6]


def fill_samples(
    device_id: str, power_w: float, stretches: Iterable[tuple[float, float]]
) -> list[Sample]:
    """Modelled samples at ``power_w`` over the stretches."""
    return [Sample(device_id, u, v, power_w * (v - u), power_w * (v - u)) for u, v in stretches]


def fill_gaps(timeline: Timeline, a: float, b: float) -> tuple[list[Sample], float, float]:
    """Samples covering the stretches of (a, b) nobody measured, at the device's mean
    measured power (a model, reported as such), with (seconds filled, joules filled).
    Nothing is filled for a device with no known sample."""
    known = [s for s in timeline.samples if s.energy_j is not None and s.duration_s > 0]
    if not known or b <= a:
        return [], 0.0, 0.0
    power_w = math.fsum(s.energy_j or 0.0 for s in known) / math.fsum(s.duration_s for s in known)
    out = fill_samples(
        known[0].device_id,
        power_w,
        fill_stretches(((s.t_start, s.t_end) for s in timeline.samples), a, b),
    )
    return out, math.fsum(s.duration_s for s in out), math.fsum(s.energy_j or 0.0 for s in out)
