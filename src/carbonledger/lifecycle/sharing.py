"""Runs that overlap on one host share its energy: each is charged its part, never the whole.

Scope ``machine`` means "what the machine used, less what the other tracked runs on it are
charged for at the same time". Sharing is decided when a run is priced, from the ledger
alone, so it works for runs in separate processes that never knew of each other, and for
a run whose tracker crashed (its recorded samples still count; after its last sample it
claims nothing).

For each device and each stretch of time where several runs' samples overlap (samples are
pro-rated by overlap duration, assuming even power inside one sample), the device energy
the sensors saw is split by :func:`split_interval`:

- a run with scope ``process`` keeps its measured process-tree share of the device;
- runs with scope ``machine`` split what is left evenly (or by their ``weight``);
- measured shares that add up to more than the device are scaled down to fit.

The parts never add up to more than the device used. Embodied emissions are split evenly in
time among the runs active at once. Everything above :func:`share_for_run` is pure.
"""

from __future__ import annotations

import bisect
import itertools
import math
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from carbonledger.records import RunRecord, Sample, Scope, SpanRecord

if TYPE_CHECKING:
    from carbonledger.lifecycle.footprint import EmbodiedItem
    from carbonledger.store.base import Ledger

__all__ = [
    "ALONE",
    "Claim",
    "OtherRun",
    "Sharing",
    "find_overlapping_runs",
    "host_key",
    "runs_overlap",
    "share_for_run",
    "share_samples",
    "split_interval",
]

ALONE = "alone"
EVEN = "even"
PROCESS_SHARE = "process-share"
REMAINDER = "remainder"
WEIGHTED = "weighted"

_METHOD_TEXT = {
    EVEN: "split evenly among the runs active at the same time",
    PROCESS_SHARE: "this run keeps its measured process-tree share",
    REMAINDER: (
        "what the host used less the process-scope runs' measured shares, "
        "split among the machine-scope runs"
    ),
    WEIGHTED: "split by the runs' weights",
}


# -- splitting one stretch ---------------------------------------------------------------
@dataclass(frozen=True)
class Claim:
    """One run's claim on a device over one stretch of time.

    ``share`` is the run's measured fraction of the device (scope ``process``); ``None``
    means the run takes part of what the measured claims leave (scope ``machine``), in
    proportion to ``weight`` (equal weights: an even split).
    """

    share: float | None = None
    weight: float = 1.0


def split_interval(claims: Mapping[str, Claim]) -> dict[str, float]:
    """Each run's fraction of a device's energy over one stretch; they sum to at most 1.

    Measured shares are kept (clamped to [0, 1]; scaled down together when they add up to
    more than 1); the rest goes to the unmeasured claims in proportion to their weights
    (evenly when all weights are zero or equal).
    """
    measured = {r: min(1.0, max(0.0, c.share)) for r, c in claims.items() if c.share is not None}
    taken = math.fsum(measured.values())
    scale = 1.0 / taken if taken > 1.0 else 1.0
    out = {r: f * scale for r, f in measured.items()}
    rest = max(0.0, 1.0 - math.fsum(out.values()))
    open_claims = {r: max(0.0, c.weight) for r, c in claims.items() if c.share is None}
    total_w = math.fsum(open_claims.values())
    for r, w in open_claims.items():
        out[r] = rest * (w / total_w if total_w > 0 else 1.0 / len(open_claims))
    return out


# -- one run against the others -----------------------------------------------------------
@dataclass(frozen=True)
class OtherRun:
    """Another run on the same host: its id, scope and samples (any order, any cadence)."""

    run_id: str
    scope: Scope
    samples: Sequence[Sample]


@dataclass(frozen=True)
class Sharing:
    """A run's samples after sharing, whom it shared with, and how.

    ``samples`` are the run's samples with ``energy_j`` scaled to its part (a sample that
    overlapped nobody is the very same object). ``embodied_factor`` scales its embodied
    emissions (1 when alone). ``energy_alone_j`` is what it would be charged alone.
    """

    samples: tuple[Sample, ...]
    shared_with: tuple[str, ...] = ()
    method: str = ALONE
    shared_s: float = 0.0
    energy_alone_j: float | None = None
    embodied_factor: float = 1.0
    warnings: tuple[str, ...] = ()
    original: tuple[Sample, ...] = field(default=(), repr=False)

    @property
    def alone(self) -> bool:
        return not self.shared_with

    def scale_span(self, span: SpanRecord) -> SpanRecord:
        """The span with each device's energy scaled as the run's samples were over it."""
        if self.alone or not span.energy_j:
            return span
        end = span.ended_at
        if end is None:
            end = max((s.t_end for s in self.original), default=span.started_at)
        scaled: dict[str, float | None] = {}
        for device_id, energy in span.energy_j.items():
            factor = _factor_over(self.original, self.samples, device_id, span.started_at, end)
            scaled[device_id] = None if energy is None else energy * factor
        return replace(span, energy_j=scaled)

    def scale_embodied(self, items: Sequence[EmbodiedItem]) -> tuple[EmbodiedItem, ...]:
        """Embodied items scaled by the run's share of the host's time."""
        if self.embodied_factor >= 1.0:
            return tuple(items)
        f = self.embodied_factor
        return tuple(replace(e, g=e.g * f, share=e.share * f) for e in items)


def share_samples(
    run_id: str,
    scope: Scope,
    samples: Sequence[Sample],
    others: Sequence[OtherRun],
    *,
    duration_s: float | None = None,
) -> Sharing:
    """Split the host energy in ``samples`` with ``others`` (runs on the same host).

    Devices are matched by ``device_id``; a device only this run saw stays its own. A
    sample whose ``energy_j`` is unknown claims nothing (its run is charged nothing there
    and the others share the whole). ``duration_s`` (the run's, for embodied emissions)
    defaults to the time its samples span.
    """
    own = tuple(samples)
    others = [o for o in others if o.run_id != run_id and o.samples]
    if not others or not own:
        return Sharing(own, original=own)
    index = _OthersIndex(others)
    out: list[Sample] = []
    partners: set[str] = set()
    kinds: set[str] = set()
    oversubscribed = False
    for s in own:
        new, used = _share_one(s, scope, index)
        out.append(new)
        for other_id, kind, over in used:
            partners.add(other_id)
            kinds.add(kind)
            oversubscribed = oversubscribed or over
    if not partners:
        return Sharing(own, original=own)
    shared_s, factor = _embodied_time_share(own, others, duration_s)
    method = _method(scope, kinds)
    names = sorted(partners)
    notes = [
        f"shared this host with {len(names)} other tracked run(s) ({', '.join(names)}) for "
        f"{shared_s:.1f} s: the host's energy there is {_METHOD_TEXT[method]}; embodied "
        "emissions are split evenly in time"
    ]
    if oversubscribed:
        notes.append(
            "the process-scope runs' measured shares of a device added up to more than the "
            "device used; they were scaled down to fit"
        )
    alone_j = [s.energy_j for s in own if s.energy_j is not None]
    return Sharing(
        samples=tuple(out),
        shared_with=tuple(names),
        method=method,
        shared_s=shared_s,
        energy_alone_j=math.fsum(alone_j) if alone_j else None,
        embodied_factor=factor,
        warnings=tuple(notes),
        original=own,
    )


def _method(scope: Scope, kinds: set[str]) -> str:
    if scope is Scope.PROCESS:
        return PROCESS_SHARE
    if WEIGHTED in kinds:
        return WEIGHTED
    return REMAINDER if PROCESS_SHARE in kinds else EVEN


def _claim(scope: Scope, s: Sample) -> Claim | None:
    """A sample's claim, or None when it claims nothing (an unknown value)."""
    if s.energy_j is None or s.host_energy_j is None:
        return None
    if scope is Scope.PROCESS:
        h = s.host_energy_j
        return Claim(share=(s.energy_j / h) if h > 0 else 0.0)
    return Claim()


class _OthersIndex:
    """The other runs' samples per device, sorted by start, for interval look-ups."""

    def __init__(self, others: Sequence[OtherRun]) -> None:
        self.scope = {o.run_id: Scope(o.scope) for o in others}
        self.by_device: dict[str, list[tuple[str, list[float], list[Sample]]]] = defaultdict(list)
        for o in others:
            per_device: dict[str, list[Sample]] = defaultdict(list)
            for s in o.samples:
                if s.t_end > s.t_start:
                    per_device[s.device_id].append(s)
            for device_id, rows in per_device.items():
                rows.sort(key=lambda s: s.t_start)
                self.by_device[device_id].append((o.run_id, [s.t_start for s in rows], rows))

    def overlapping(self, device_id: str, a: float, b: float) -> list[tuple[str, Sample]]:
        """The other runs' samples of ``device_id`` that overlap (a, b)."""
        found: list[tuple[str, Sample]] = []
        for run_id, starts, rows in self.by_device.get(device_id, ()):
            i = max(0, bisect.bisect_right(starts, a) - 1)
            while i < len(rows) and rows[i].t_start < b:
                if rows[i].t_end > a:
                    found.append((run_id, rows[i]))
                i += 1
        return found


def _share_one(
    s: Sample, scope: Scope, index: _OthersIndex
) -> tuple[Sample, set[tuple[str, str, bool]]]:
    """One own sample after sharing, and (other run, kind of its claim, oversubscribed)."""
    own_claim = _claim(scope, s)
    if own_claim is None or s.energy_j is None or s.host_energy_j is None or s.t_end <= s.t_start:
        return s, set()
    a, b = s.t_start, s.t_end
    hits = [
        (run_id, o, c)
        for run_id, o in index.overlapping(s.device_id, a, b)
        if (c := _claim(index.scope[run_id], o)) is not None
    ]
    if not hits:
        return s, set()
    cuts = sorted({a, b, *(t for _, o, _ in hits for t in (o.t_start, o.t_end) if a < t < b)})
    length = b - a
    total = 0.0
    used: set[tuple[str, str, bool]] = set()
    for u, v in itertools.pairwise(cuts):
        mid = (u + v) / 2
        claims: dict[str, Claim] = {}
        for run_id, o, c in hits:
            if o.t_start <= mid < o.t_end and run_id not in claims:
                claims[run_id] = c
        if not claims:
            total += s.energy_j * (v - u) / length  # nobody else there: unchanged
            continue
        claims[_SELF] = own_claim
        parts = split_interval(claims)
        total += s.host_energy_j * (v - u) / length * parts[_SELF]
        measured = math.fsum(min(1.0, max(0.0, c.share)) for c in claims.values() if c.share)
        for run_id, c in claims.items():
            if run_id == _SELF:
                continue
            kind = PROCESS_SHARE if c.share is not None else EVEN
            if c.share is None and c.weight != own_claim.weight:
                kind = WEIGHTED
            used.add((run_id, kind, measured > 1.0 + 1e-9))
    return replace(s, energy_j=total), used


_SELF = "\x00self"  # a key no run id can take


def _merged(intervals: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted(i for i in intervals if i[1] > i[0]):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _embodied_time_share(
    own: Sequence[Sample], others: Sequence[OtherRun], duration_s: float | None
) -> tuple[float, float]:
    """(seconds shared with at least one other run, the run's share of the host's time).

    A run is active over the union of its samples; at each moment the active runs share
    the host's time evenly. Time of the run outside its samples stays its own.
    """
    mine = _merged((s.t_start, s.t_end) for s in own)
    events: list[tuple[float, int]] = []
    for o in others:
        for a, b in _merged((s.t_start, s.t_end) for s in o.samples):
            events += [(a, 1), (b, -1)]
    events.sort()
    if not mine:
        return 0.0, 1.0
    # piecewise-constant count of other active runs, clipped to this run's intervals
    shared_s = 0.0
    given_up_s = 0.0
    times = sorted({t for t, _ in events} | {t for iv in mine for t in iv})
    counts: list[int] = []
    level, k = 0, 0
    for t in times:
        while k < len(events) and events[k][0] <= t:
            level += events[k][1]
            k += 1
        counts.append(level)
    j = 0
    for (u, v), n in zip(itertools.pairwise(times), counts, strict=False):
        while j < len(mine) and mine[j][1] <= u:
            j += 1
        if n <= 0 or j >= len(mine) or not (mine[j][0] <= u and v <= mine[j][1]):
            continue
        shared_s += v - u
        given_up_s += (v - u) * n / (n + 1)
    span = duration_s if duration_s is not None else math.fsum(b - a for a, b in mine)
    if span is None or span <= 0:
        return shared_s, 1.0
    return shared_s, max(0.0, min(1.0, 1.0 - given_up_s / span))


def _factor_over(
    before: Sequence[Sample], after: Sequence[Sample], device_id: str, a: float, b: float
) -> float:
    """How much the run's energy on ``device_id`` over (a, b) was scaled by sharing."""
    old = new = 0.0
    for s0, s1 in zip(before, after, strict=True):
        if s0.device_id != device_id or s0.energy_j is None or s1.energy_j is None:
            continue
        if s0.t_end <= s0.t_start:
            continue
        overlap = min(b, s0.t_end) - max(a, s0.t_start)
        if overlap <= 0:
            continue
        frac = overlap / (s0.t_end - s0.t_start)
        old += s0.energy_j * frac
        new += s1.energy_j * frac
    return new / old if old > 0 else 1.0


# -- finding the others in a ledger (I/O) --------------------------------------------------
def host_key(host: Mapping[str, Any]) -> str | None:
    """What identifies a run's machine: its machine id, else its hostname; None if neither."""
    key = host.get("machine_id") or host.get("hostname")
    return str(key) if key else None


def runs_overlap(run: RunRecord, other: RunRecord, *, now: float) -> bool:
    """Whether two runs ran on the same host at overlapping times (a running run: to now)."""
    if other.run_id == run.run_id:
        return False
    key = host_key(run.host)
    if key is None or host_key(other.host) != key:
        return False
    end = run.ended_at if run.ended_at is not None else now
    other_end = other.ended_at if other.ended_at is not None else now
    return other.started_at < end and other_end > run.started_at


def find_overlapping_runs(ledger: Ledger, run: RunRecord) -> list[RunRecord]:
    """Runs in ``ledger`` on the run's host that overlapped it in time.

    Uses the ledger's own ``overlapping_runs`` when it has one; else filters ``list_runs``.
    """
    if host_key(run.host) is None:
        return []
    finder = getattr(ledger, "overlapping_runs", None)
    if callable(finder):
        found: list[RunRecord] = finder(run)
        return found
    now = time.time()
    return [r for r in ledger.list_runs() if runs_overlap(run, r, now=now)]


def share_for_run(ledger: Ledger, run: RunRecord, samples: Sequence[Sample]) -> Sharing:
    """The run's samples split with the overlapping runs of its ledger and host."""
    others = [
        OtherRun(r.run_id, Scope(r.scope), ledger.samples(r.run_id))
        for r in find_overlapping_runs(ledger, run)
    ]
    return share_samples(run.run_id, Scope(run.scope), samples, others, duration_s=run.duration_s)
