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

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeAlias

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
    "savings_pct",
]

POLICIES = ("flexible_start", "pause_resume")

#: Largest lattice (cells × duration units) the minimum-slot programme may use.
DP_BUDGET = 400_000
_US = 1_000_000  # lattice arithmetic is done in integer microseconds
_REL_TOL = 1e-12
_Back: TypeAlias = "tuple[int, int, bool] | None"  # (point, used µs, was running)


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
    ``exact`` is False only when a minimum-slot plan had to use a coarser lattice. A plan is
    a prediction (or a what-if on history), so its ``method`` is ``modeled``;
    ``estimated_share`` is the share of its time on values the data provider flagged as
    estimated (None when the series has no flags).
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
    estimated_share: float | None = None
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
            "estimated_share": self.estimated_share,
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
        estimated_share=_estimated_share(series, slots, duration_s),
    )


def _estimated_share(
    series: IntensitySeries, slots: list[tuple[float, float]], duration_s: float
) -> float | None:
    """The share of the planned time whose intensity the data provider estimated."""
    if series.estimated is None:
        return None
    flagged = 0.0
    for a, b in slots:
        i = bisect.bisect_right(series.times, a) - 1
        t = a
        while t < b and i < len(series.times):
            nxt = min(series.times[i + 1] if i + 1 < len(series.times) else series.end, b)
            if series.estimated[i]:
                flagged += nxt - t
            t, i = nxt, i + 1
    return flagged / duration_s


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
    """Exact DP over the points where an optimal plan's slots can begin or end.

    With q = gcd(step boundaries, D, m) (integer microseconds from the series' first time),
    a = earliest mod q and b = deadline mod q, every endpoint of some optimal plan lies on
    one of the shifted lattices r + qZ, r ∈ {0, ±a, ±b, ±(a − b)} (proof in
    docs/methodology/scheduling.md). When those points × D/q exceed :data:`DP_BUDGET`, the
    window's edges move inward to a coarser lattice q' | q (the plan is then not exact).
    """
    origin = series.times[0]

    def us(x: float) -> int:
        return round(x * _US)

    q = 0
    for bound in pieces.bounds[1:-1]:
        q = math.gcd(q, us(bound - origin))
    d_us, m_us = us(duration_s), us(min_slot_s)
    q = math.gcd(math.gcd(q, d_us), m_us)
    lo, hi = us(pieces.start - origin), us(pieces.end - origin)
    a, b = lo % q, hi % q
    residues = {0, a, b, -a % q, -b % q, (a - b) % q, (b - a) % q}
    if _dp_size(lo, hi, d_us, q, len(residues)) <= DP_BUDGET:
        points = _lattice_points(lo, hi, q, residues)
        # time used between slots: sums of whole slots of an optimal plan (see the proof)
        between = {(x + y + z) % q for x in (0, -a) for y in (0, a, -b, a - b) for z in (0, b)}
        return _point_dp(pieces, origin, points, d_us, m_us, q, between), True
    for k in (60, 30, 20, 15, 12, 10, 6, 5, 4, 3, 2, 1):
        if q % k:
            continue
        q2 = q // k
        lo2, hi2 = -(-lo // q2) * q2, (hi // q2) * q2
        if hi2 - lo2 >= d_us and _dp_size(lo2, hi2, d_us, q2, 1) <= DP_BUDGET:
            points = _lattice_points(lo2, hi2, q2, {0})
            return _point_dp(pieces, origin, points, d_us, m_us, q2, {0}), False
    raise DataError(
        f"pause and resume with a minimum slot of {format_duration(min_slot_s)}: the window "
        f"is too long for a job of {format_duration(duration_s)} at this resolution; "
        "shorten the window or use a minimum slot that divides the series' step"
    )


def _dp_size(lo: int, hi: int, d_us: int, q: int, classes: int) -> int:
    return ((hi - lo) // q + 1) * classes * (d_us // q + 1)


def _lattice_points(lo: int, hi: int, q: int, residues: set[int]) -> list[int]:
    """Every point of the lattices r + qZ (r in ``residues``) in [lo, hi], and lo, hi."""
    points = {lo, hi}
    for r in residues:
        first = lo + (r - lo) % q
        points.update(range(first, hi + 1, q))
    return sorted(points)


def _point_dp(
    pieces: Pieces,
    origin: float,
    points: list[int],
    d_us: int,
    m_us: int,
    q: int,
    between: set[int],
) -> list[tuple[float, float]]:
    """Cheapest runs between ``points`` (µs from origin), each ≥ m, adding up to D.

    ``points`` must hold every piece bound and be closed under +m inside the window. At each
    point, states map time used so far (µs) to the least cost: ``on`` (running) and ``off``.
    Moves: off → skip to the next point; off → start, running to the point m later;
    on → continue to the next point; on → stop (kept only when the time used is ≡ one of
    ``between`` mod q: an optimal plan needs no other).
    """
    index = {p: i for i, p in enumerate(points)}
    cum = [pieces.cumulative(origin + p / _US) for p in points]
    n = len(points)
    on: list[dict[int, float]] = [{} for _ in range(n)]
    off: list[dict[int, float]] = [{} for _ in range(n)]
    on_back: list[dict[int, _Back]] = [{} for _ in range(n)]
    off_back: list[dict[int, _Back]] = [{} for _ in range(n)]

    def relax(
        costs: dict[int, float], backs: dict[int, _Back], used: int, cost: float, back: _Back
    ) -> None:
        old = costs.get(used)
        if old is None or cost < old - _tol(old):
            costs[used] = cost
            backs[used] = back

    off[0][0] = 0.0
    off_back[0][0] = None
    for i in range(n):
        if i > 0:
            step_us = points[i] - points[i - 1]
            cell = cum[i] - cum[i - 1]
            for used, cost in off[i - 1].items():
                relax(off[i], off_back[i], used, cost, (i - 1, used, False))
            for used, cost in on[i - 1].items():
                if used + step_us <= d_us:
                    relax(on[i], on_back[i], used + step_us, cost + cell, (i - 1, used, True))
        for used, cost in on[i].items():
            if used % q in between:
                relax(off[i], off_back[i], used, cost, (i, used, True))
        j = index.get(points[i] + m_us)
        if j is not None:
            run = cum[j] - cum[i]
            for used, cost in off[i].items():
                if used + m_us <= d_us:
                    relax(on[j], on_back[j], used + m_us, cost + run, (i, used, False))
    if d_us not in off[-1]:
        raise DataError("no set of slots fits the window with that minimum slot length")
    runs: list[tuple[float, float]] = []
    i, used, running = n - 1, d_us, False
    run_end = 0
    while True:
        back = (on_back if running else off_back)[i][used]
        if back is None:
            break
        j, prev_used, prev_running = back
        if not running and prev_running:  # a stop at point i
            run_end = i
        elif running and not prev_running:  # a start at point j
            runs.append((origin + points[j] / _US, origin + points[run_end] / _US))
        i, used, running = j, prev_used, prev_running
    return _merge(runs)
