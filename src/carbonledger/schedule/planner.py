"""When and where to run a job: carbon-aware planning on intensity series (pure functions).

Policies (the methods and their proofs are in ``docs/methodology/scheduling.md``):

- ``flexible_start``: the contiguous window of the job's duration with the lowest mean
  intensity between ``earliest`` and ``deadline``. The integral over ``[s, s + D]`` is
  piecewise linear in ``s`` with kinks only where ``s`` or ``s + D`` meets a step boundary,
  so the minimum is at one of those candidates or at a window edge: exact.
- ``pause_resume`` (``interruptible=True``): the cheapest set of slots adding up to the
  duration. Without a minimum slot length it is a fractional knapsack (cheapest pieces first,
  exact). With ``min_slot_s`` a dynamic programme over a time lattice that holds every step
  boundary, the window's edges, the duration and the minimum slot is exact (every optimal
  vertex lies on that lattice); when that lattice is too fine to be affordable the window's
  edges are moved inward to a coarser lattice and the plan says ``exact=False``.
- several series (zones): each zone is planned and the one with the lowest mean wins.

Times are unix seconds; durations are seconds; intensities are g/kWh.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from carbonledger.errors import ConfigError, DataError
from carbonledger.intensity.series import IntensitySeries
from carbonledger.schedule.timeparse import format_duration, format_time
from carbonledger.schedule.windows import Pieces, window_pieces

__all__ = [
    "POLICIES",
    "Plan",
    "Slot",
    "flexible_start_slots",
    "pause_resume_slots",
    "plan",
    "plan_zone",
]

POLICIES = ("flexible_start", "pause_resume")

#: Largest lattice (cells × duration units) the minimum-slot programme may use.
DP_BUDGET = 400_000
_US = 1_000_000  # lattice arithmetic is done in integer microseconds
_REL_TOL = 1e-12


@dataclass(frozen=True)
class Slot:
    """One stretch of running time, ``[start, end)`` in unix seconds."""

    start: float
    end: float

    @property
    def duration_s(self) -> float:
        return self.end - self.start

    def to_dict(self) -> dict[str, str]:
        return {"start": format_time(self.start), "end": format_time(self.end)}


@dataclass(frozen=True)
class Plan:
    """A planned run: where, when (its slots), and how clean compared with starting now.

    ``baseline_mean_g_per_kwh`` is the mean over ``[earliest, earliest + duration]`` in the
    same zone (start at once, run straight through); ``savings_pct`` is
    ``100 × (baseline − mean) / baseline`` (0 when the baseline is 0). With several zones,
    ``zones`` holds every zone's own plan and the top level is the best of them.
    ``exact`` is False only when a minimum-slot plan had to use a coarser lattice.
    """

    zone: str
    policy: str
    slots: tuple[Slot, ...]
    duration_s: float
    mean_g_per_kwh: float
    baseline_mean_g_per_kwh: float
    earliest: float
    deadline: float
    min_slot_s: float | None = None
    basis: str = "unknown"
    signal: str = "average"
    source: str = "series"
    exact: bool = True
    zones: tuple[Plan, ...] = field(default=())

    @property
    def start(self) -> float:
        return self.slots[0].start

    @property
    def end(self) -> float:
        return self.slots[-1].end

    @property
    def savings_pct(self) -> float:
        return savings_pct(self.baseline_mean_g_per_kwh, self.mean_g_per_kwh)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ISO 8601 UTC times, g/kWh, seconds; ``zones`` when several."""
        data: dict[str, Any] = {
            "zone": self.zone,
            "start": format_time(self.start),
            "end": format_time(self.end),
            "slots": [s.to_dict() for s in self.slots],
            "mean_g_per_kwh": self.mean_g_per_kwh,
            "baseline_mean_g_per_kwh": self.baseline_mean_g_per_kwh,
            "savings_pct": self.savings_pct,
            "policy": self.policy,
            "duration_s": self.duration_s,
            "earliest": format_time(self.earliest),
            "deadline": format_time(self.deadline),
            "min_slot_s": self.min_slot_s,
            "basis": self.basis,
            "signal": self.signal,
            "source": self.source,
            "method": "modeled",
            "exact": self.exact,
        }
        if self.zones:
            data["zones"] = [z.to_dict() for z in self.zones]
        return data


def savings_pct(baseline_g_per_kwh: float, mean_g_per_kwh: float) -> float:
    """``100 × (baseline − mean) / baseline``; 0 when the baseline is 0."""
    if baseline_g_per_kwh <= 0:
        return 0.0
    return 100.0 * (baseline_g_per_kwh - mean_g_per_kwh) / baseline_g_per_kwh


# ---------------------------------------------------------------------------------------
# public entry points


def plan(
    series: IntensitySeries | Sequence[IntensitySeries] | Mapping[str, IntensitySeries],
    *,
    duration_s: float,
    earliest: float | datetime | None = None,
    deadline: float | datetime | None = None,
    window_s: float | None = None,
    interruptible: bool = False,
    min_slot_s: float | None = None,
) -> Plan:
    """Plan a job of ``duration_s`` on one or several zones' intensity series.

    ``earliest`` defaults to the first instant every series covers; ``deadline`` to
    ``earliest + window_s``, or else to the last instant every series covers. The job may
    be paused and resumed when ``interruptible`` (slots of at least ``min_slot_s``). With
    several series the zone with the lowest mean intensity wins (the first on a tie).
    Raises :class:`DataError` when the window is shorter than the job or a series does not
    cover it, :class:`ConfigError` for contradictory arguments.
    """
    many = _as_list(series)
    start = _as_unix(earliest) if earliest is not None else max(s.start for s in many)
    if deadline is not None and window_s is not None:
        raise ConfigError("give a deadline or a window, not both")
    if window_s is not None:
        if not window_s > 0:
            raise ConfigError(f"window must be > 0 s, got {window_s!r}")
        stop = start + window_s
    elif deadline is not None:
        stop = _as_unix(deadline)
    else:
        stop = min(s.end for s in many)
    plans = [
        plan_zone(
            s,
            duration_s=duration_s,
            earliest=start,
            deadline=stop,
            interruptible=interruptible,
            min_slot_s=min_slot_s,
        )
        for s in many
    ]
    if len(plans) == 1:
        return plans[0]
    best = plans[0]
    for candidate in plans[1:]:
        if candidate.mean_g_per_kwh < best.mean_g_per_kwh - _tol(best.mean_g_per_kwh):
            best = candidate
    return Plan(**{**best.__dict__, "zones": tuple(plans)})


def plan_zone(
    series: IntensitySeries,
    *,
    duration_s: float,
    earliest: float,
    deadline: float,
    interruptible: bool = False,
    min_slot_s: float | None = None,
) -> Plan:
    """Plan a job on one series; see :func:`plan`."""
    _check_durations(duration_s, min_slot_s)
    pieces = _pieces_for_job(series, earliest, deadline, duration_s)
    exact = True
    if interruptible:
        slots, exact = _pause_resume(pieces, duration_s, min_slot_s or 0.0, series)
        policy = "pause_resume"
    else:
        slots = [_flexible(pieces, duration_s)]
        policy = "flexible_start"
    total = sum(pieces.integral(a, b) for a, b in slots)
    baseline = pieces.integral(earliest, earliest + duration_s) / duration_s
    return Plan(
        zone=series.zone,
        policy=policy,
        slots=tuple(Slot(a, b) for a, b in slots),
        duration_s=duration_s,
        mean_g_per_kwh=total / duration_s,
        baseline_mean_g_per_kwh=baseline,
        earliest=earliest,
        deadline=deadline,
        min_slot_s=min_slot_s if interruptible else None,
        basis=series.basis,
        signal=series.signal,
        source=series.source,
        exact=exact,
    )


def flexible_start_slots(
    series: IntensitySeries, *, duration_s: float, earliest: float, deadline: float
) -> tuple[Slot, ...]:
    """The one contiguous slot of ``duration_s`` with the lowest mean intensity."""
    _check_durations(duration_s, None)
    pieces = _pieces_for_job(series, earliest, deadline, duration_s)
    a, b = _flexible(pieces, duration_s)
    return (Slot(a, b),)


def pause_resume_slots(
    series: IntensitySeries,
    *,
    duration_s: float,
    earliest: float,
    deadline: float,
    min_slot_s: float | None = None,
) -> tuple[Slot, ...]:
    """The cheapest slots adding up to ``duration_s``, each at least ``min_slot_s`` long."""
    _check_durations(duration_s, min_slot_s)
    pieces = _pieces_for_job(series, earliest, deadline, duration_s)
    slots, _ = _pause_resume(pieces, duration_s, min_slot_s or 0.0, series)
    return tuple(Slot(a, b) for a, b in slots)


# ---------------------------------------------------------------------------------------
# checks


def _as_list(
    series: IntensitySeries | Sequence[IntensitySeries] | Mapping[str, IntensitySeries],
) -> list[IntensitySeries]:
    if isinstance(series, IntensitySeries):
        return [series]
    many = list(series.values()) if isinstance(series, Mapping) else list(series)
    if not many:
        raise ConfigError("plan needs at least one intensity series")
    zones = [s.zone for s in many]
    for zone in zones:
        if zones.count(zone) > 1:
            raise ConfigError(f"zone {zone!r} is given more than once")
    return many


def _as_unix(at: float | datetime) -> float:
    if isinstance(at, datetime):
        if at.tzinfo is None:
            raise ConfigError(f"time {at.isoformat()} has no time zone; give one (e.g. UTC)")
        return at.timestamp()
    return float(at)


def _check_durations(duration_s: float, min_slot_s: float | None) -> None:
    if not (math.isfinite(duration_s) and duration_s > 0):
        raise ConfigError(f"job duration must be > 0 s, got {duration_s!r}")
    if min_slot_s is not None and not (math.isfinite(min_slot_s) and min_slot_s >= 0):
        raise ConfigError(f"minimum slot must be ≥ 0 s, got {min_slot_s!r}")


def _pieces_for_job(
    series: IntensitySeries, earliest: float, deadline: float, duration_s: float
) -> Pieces:
    pieces = window_pieces(series, earliest, deadline)
    if deadline - earliest < duration_s:
        raise DataError(
            f"window {format_time(earliest)} to {format_time(deadline)} "
            f"({format_duration(deadline - earliest)}) is shorter than the job "
            f"({format_duration(duration_s)})"
        )
    return pieces


def _tol(value: float) -> float:
    return _REL_TOL * max(1.0, abs(value))


# ---------------------------------------------------------------------------------------
# flexible start


def _flexible(pieces: Pieces, duration_s: float) -> tuple[float, float]:
    """The start minimising ∫[s, s+D]: checked at every kink of that piecewise-linear map."""
    first, latest = pieces.start, pieces.end - duration_s
    candidates = {first, latest}
    for b in pieces.bounds:
        for s in (b, b - duration_s):
            if first < s < latest:
                candidates.add(s)
    best_s, best = first, math.inf
    for s in sorted(candidates):
        cost = pieces.integral(s, s + duration_s)
        if cost < best - _tol(best if math.isfinite(best) else cost):
            best_s, best = s, cost
    return (best_s, best_s + duration_s)


# ---------------------------------------------------------------------------------------
# pause and resume


def _pause_resume(
    pieces: Pieces, duration_s: float, min_slot_s: float, series: IntensitySeries
) -> tuple[list[tuple[float, float]], bool]:
    """(slots, exact): the cheapest slots of total ``duration_s``, each ≥ ``min_slot_s``."""
    if min_slot_s >= duration_s:
        return [_flexible(pieces, duration_s)], True  # no room to split: run straight through
    slots = _greedy(pieces, duration_s)
    if min_slot_s <= 0 or all(b - a >= min_slot_s * (1 - 1e-12) for a, b in slots):
        return slots, True  # optimal without the constraint, and it meets it
    return _min_slot_dp(pieces, duration_s, min_slot_s, series)


def _greedy(pieces: Pieces, duration_s: float) -> list[tuple[float, float]]:
    """Fractional knapsack: whole pieces from the cheapest up, then part of the next one."""
    order = sorted(range(len(pieces.values_g_per_kwh)), key=lambda i: pieces.values_g_per_kwh[i])
    bounds = pieces.bounds
    taken: dict[int, tuple[float, float]] = {}
    left = duration_s
    for i in order:
        if left <= 0:
            break
        length = bounds[i + 1] - bounds[i]
        if length <= left:
            taken[i] = (bounds[i], bounds[i + 1])
            left -= length
        else:  # the partial piece: put it next to a chosen neighbour, if any
            if i + 1 in taken and i - 1 not in taken:
                taken[i] = (bounds[i + 1] - left, bounds[i + 1])
            else:
                taken[i] = (bounds[i], bounds[i] + left)
            left = 0.0
    return _merge([taken[i] for i in sorted(taken)])


def _merge(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for a, b in sorted(intervals):
        if b <= a:
            continue
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def _min_slot_dp(
    pieces: Pieces, duration_s: float, min_slot_s: float, series: IntensitySeries
) -> tuple[list[tuple[float, float]], bool]:
    """Exact DP over the lattice of every boundary, the duration and the minimum slot.

    Lattice step q = gcd of all these in integer microseconds (relative to the series'
    first time). When N cells × K duration units exceed :data:`DP_BUDGET`, a coarser
    lattice q' | gcd(steps, D, m) is used with the window's edges moved inward (not exact).
    """
    origin = series.times[0]

    def us(x: float) -> int:
        return round(x * _US)

    step_gcd = 0
    for b in pieces.bounds[1:-1]:
        step_gcd = math.gcd(step_gcd, us(b - origin))
    d_us, m_us = us(duration_s), us(min_slot_s)
    coarse = math.gcd(math.gcd(step_gcd, d_us), m_us)
    e_us, end_us = us(pieces.start - origin), us(pieces.end - origin)
    q = math.gcd(math.gcd(coarse, e_us), end_us)
    if _dp_size(e_us, end_us, d_us, q) <= DP_BUDGET:
        return _lattice_dp(pieces, origin, q, e_us, end_us, d_us, m_us), True
    for k in (60, 30, 20, 15, 12, 10, 6, 5, 4, 3, 2, 1):
        if coarse % k:
            continue
        q2 = coarse // k
        lo, hi = -(-e_us // q2) * q2, (end_us // q2) * q2
        if hi - lo < d_us:
            continue
        if _dp_size(lo, hi, d_us, q2) <= DP_BUDGET:
            return _lattice_dp(pieces, origin, q2, lo, hi, d_us, m_us), False
    raise DataError(
        f"pause and resume with a minimum slot of {format_duration(min_slot_s)}: the window "
        f"is too long for a job of {format_duration(duration_s)} at this resolution; "
        "shorten the window or use a minimum slot that divides the series' step"
    )


def _dp_size(lo: int, hi: int, d_us: int, q: int) -> int:
    return ((hi - lo) // q + 1) * (d_us // q + 1)


def _lattice_dp(
    pieces: Pieces, origin: float, q: int, lo: int, hi: int, d_us: int, m_us: int
) -> list[tuple[float, float]]:
    """Cells of length q on [lo, hi] (µs from origin); choose K = D/q cells in runs ≥ M.

    on[i][k]: k cells used and running at lattice point i; off[i][k]: k used, not running.
    on[i][k]  = min(on[i-1][k-1] + c[i-1],  off[i-M][k-M] + Σ c[i-M..i-1])
    off[i][k] = min(off[i-1][k], on[i][k])
    """
    n, big_k, big_m = (hi - lo) // q, d_us // q, m_us // q
    to_s = [origin + (lo + i * q) / _US for i in range(n + 1)]
    cum = [pieces.cumulative(t) for t in to_s]
    inf = math.inf
    off = [[inf] * (big_k + 1) for _ in range(n + 1)]
    on = [[inf] * (big_k + 1) for _ in range(n + 1)]
    on_from_start = [[False] * (big_k + 1) for _ in range(n + 1)]
    off_from_stop = [[False] * (big_k + 1) for _ in range(n + 1)]
    off[0][0] = 0.0
    for i in range(1, n + 1):
        cell = cum[i] - cum[i - 1]
        on_i, off_i, prev_on, prev_off = on[i], off[i], on[i - 1], off[i - 1]
        run_cost = cum[i] - cum[i - big_m] if i >= big_m else inf
        start_off = off[i - big_m] if i >= big_m else None
        for k in range(1, big_k + 1):
            best = prev_on[k - 1] + cell
            if start_off is not None and k >= big_m:
                alt = start_off[k - big_m] + run_cost
                if alt < best - _tol(alt):
                    best = alt
                    on_from_start[i][k] = True
            on_i[k] = best
        for k in range(big_k + 1):
            if on_i[k] < prev_off[k] - _tol(on_i[k]):
                off_i[k] = on_i[k]
                off_from_stop[i][k] = True
            else:
                off_i[k] = prev_off[k]
    if not math.isfinite(off[n][big_k]):
        raise DataError("no set of slots fits the window with that minimum slot length")
    cells: list[tuple[int, int]] = []
    i, k, running = n, big_k, False
    while i > 0 or running:
        if not running:
            if off_from_stop[i][k]:
                running = True
            else:
                i -= 1
            continue
        if on_from_start[i][k]:
            cells.append((i - big_m, i))
            i, k, running = i - big_m, k - big_m, False
        else:
            cells.append((i - 1, i))
            i, k = i - 1, k - 1
    return _merge([(to_s[a], to_s[b]) for a, b in cells])
