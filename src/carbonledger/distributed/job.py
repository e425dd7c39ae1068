"""One footprint for a distributed job, from the runs its processes recorded.

For each node: every device's samples from every run of the job on that node, joined
into one timeline (:mod:`carbonledger.distributed.merge`), so a device is counted once
however many ranks ran there. The node is priced as one run would be
(:func:`carbonledger.lifecycle.pricing.price_run`): its zone's intensity, time-aligned
where a series was kept, its PUE, and embodied emissions for every device any of its
processes held, over the node's time in the job. The job adds the nodes.

Intervals: the nodes' errors are independent (different sensors, different grids), so
absolute half-widths add in quadrature (``method: "quadrature"``). A calibration bias
common to every node (the same sensor model off the same way everywhere) would add
linearly instead: the JSON gives that wider interval as ``energy_kwh_linear``.

Each rank's spans keep the energy their own process measured; a span of a process that
did not measure a device gets that device's energy from the node's timeline over the
span's window (``filled``). That is the node's energy while the span ran: spans of
different ranks overlap in time and must not be added up.
"""

from __future__ import annotations

import itertools
import math
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from carbonledger.distributed.merge import (
    Timeline,
    energy_between,
    fill_gaps,
    fill_samples,
    fill_stretches,
    merge_samples,
    quadrature,
)
from carbonledger.errors import RunNotFoundError
from carbonledger.intensity.series import IntensitySeries
from carbonledger.lifecycle.footprint import Footprint
from carbonledger.lifecycle.pricing import iso_utc
from carbonledger.records import DeviceInfo, RunRecord, Sample, Scope, SpanRecord
from carbonledger.store.aggregates import (
    DeviceTotals,
    StepEnergy,
    steps_from_samples,
    totals_from_samples,
)
from carbonledger.store.base import Ledger
from carbonledger.store.device_hours import DeviceSteps, device_steps
from carbonledger.units import J_PER_KWH

__all__ = ["JOB_SCHEMA", "JobFootprint", "NodeFootprint", "RankRow", "job_footprint", "job_runs"]

JOB_SCHEMA = "carbonledger.job/1"
_NOT_HARDWARE = {"hostname", "machine_id", "pid", "pid_create_time"}


@dataclass(frozen=True)
class NodeFootprint:
    node: str
    footprint: Footprint
    gaps_s: dict[str, float]  # device -> seconds of the node's time nobody measured it
    filled_j: dict[str, float]  # device -> joules modelled for those seconds
    overlap_s: dict[str, float]  # device -> seconds two processes both measured (once)
    measured_by: dict[str, list[str]]  # device -> run ids whose samples count


@dataclass(frozen=True)
class RankRow:
    run_id: str
    node: str
    rank: int | None
    local_rank: int | None
    restart: int
    status: str
    measured: tuple[str, ...]
    spans: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class JobFootprint:
    key: str
    nodes: tuple[NodeFootprint, ...]
    ranks: tuple[RankRow, ...]
    restarts: dict[int, int]  # restart count -> runs
    started_at: float | None
    ended_at: float | None
    warnings: tuple[str, ...] = ()
    scheduler: dict[str, Any] | None = field(default=None)

    def _sum(self, get: Callable[[Footprint], float | None]) -> float | None:
        values = [get(n.footprint) for n in self.nodes]
        if not values or any(v is None for v in values):
            return None
        return math.fsum(v for v in values if v is not None)

    @property
    def energy_j(self) -> float | None:
        return self._sum(lambda f: f.energy_j)

    @property
    def operational_g(self) -> float | None:
        return self._sum(lambda f: f.operational_g)

    @property
    def embodied_g(self) -> float | None:
        """The nodes' embodied emissions counted (None when no node counted any, as a
        run's; a node that counted none adds nothing, as it adds nothing to the total,
        and its warnings say why)."""
        known = [n.footprint.embodied_g for n in self.nodes if n.footprint.embodied_g is not None]
        return math.fsum(known) if known else None

    @property
    def total_g(self) -> float | None:
        return self._sum(lambda f: f.total_g)

    def _interval(
        self,
        value: float | None,
        get: Callable[[Footprint], tuple[float, float] | None],
        *,
        linear: bool,
    ) -> tuple[float, float] | None:
        if value is None:
            return None
        halves: list[float] = []
        for n in self.nodes:
            iv = get(n.footprint)
            if iv is None:
                return None
            halves.append((iv[1] - iv[0]) / 2)
        half = math.fsum(halves) if linear else quadrature(halves)
        return (max(0.0, value - half), value + half)

    def energy_interval_j(self, *, linear: bool = False) -> tuple[float, float] | None:
        return self._interval(self.energy_j, lambda f: f.energy_interval_j, linear=linear)

    def total_interval_g(self, *, linear: bool = False) -> tuple[float, float] | None:
        return self._interval(self.total_g, lambda f: f.total_interval_g, linear=linear)

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return self.ended_at - self.started_at

    def to_dict(self) -> dict[str, Any]:
        def kwh(v: float | None) -> float | None:
            return None if v is None else v / J_PER_KWH

        def kg(v: float | None) -> float | None:
            return None if v is None else v / 1000.0

        def pair(iv: tuple[float, float] | None, f: Callable[[float | None], float | None]) -> Any:
            return None if iv is None else [f(iv[0]), f(iv[1])]

        return {
            "schema": JOB_SCHEMA,
            "key": self.key,
            "started_at": iso_utc(self.started_at),
            "ended_at": iso_utc(self.ended_at),
            "duration_s": self.duration_s,
            "energy_kwh": kwh(self.energy_j),
            "operational_kgco2e": kg(self.operational_g),
            "embodied_kgco2e": kg(self.embodied_g),
            "total_kgco2e": kg(self.total_g),
            "uncertainty": {
                "method": "quadrature",
                "energy_kwh": pair(self.energy_interval_j(), kwh),
                "total_kgco2e": pair(self.total_interval_g(), kg),
                "energy_kwh_linear": pair(self.energy_interval_j(linear=True), kwh),
                "total_kgco2e_linear": pair(self.total_interval_g(linear=True), kg),
            },
            "nodes": [
                {
                    "node": n.node,
                    "zone": n.footprint.intensity.zone,
                    "energy_kwh": kwh(n.footprint.energy_j),
                    "operational_kgco2e": kg(n.footprint.operational_g),
                    "embodied_kgco2e": kg(n.footprint.embodied_g),
                    "total_kgco2e": kg(n.footprint.total_g),
                    "intensity": n.footprint.intensity.to_dict(),
                    "pue": n.footprint.pue,
                    "uncertainty": {
                        "energy_kwh": pair(n.footprint.energy_interval_j, kwh),
                        "total_kgco2e": pair(n.footprint.total_interval_g, kg),
                    },
                    "devices": [
                        {**c.to_dict(), **_device_split(n, c.device, c.energy_j)}
                        for c in n.footprint.components
                    ],
                    "embodied": [e.to_dict() for e in n.footprint.embodied],
                }
                for n in self.nodes
            ],
            "ranks": [
                {
                    "run_id": r.run_id,
                    "node": r.node,
                    "rank": r.rank,
                    "local_rank": r.local_rank,
                    "restart": r.restart,
                    "status": r.status,
                    "measured": list(r.measured),
                    "spans": list(r.spans),
                }
                for r in self.ranks
            ],
            "restarts": {str(k): v for k, v in sorted(self.restarts.items())},
            "scheduler": self.scheduler,
            "warnings": list(self.warnings),
        }


_NOTED_GAP_S = 0.001
"""Gaps shorter than this (rounding of sample times) are filled without a note."""


def _gap_note(node: str, device_id: str, gap_s: float, filled_j: float) -> str:
    return (
        f"{node}: nobody measured {device_id} for {gap_s:.3g} s of the job (before the "
        "measurer's first reading, or between a measurer stopping and a standby taking "
        f"over); {filled_j:.3g} J were modelled there at its mean measured power (in the "
        "interval at ±100 %)"
    )


def _device_split(node: NodeFootprint, device_id: str, energy_j: float | None) -> dict[str, Any]:
    """A device's gap, and how much of its energy was measured and how much modelled for
    the time nobody measured it (its ``method`` names how the measured part was got)."""
    filled = node.filled_j.get(device_id)
    measured = None if energy_j is None else max(0.0, energy_j - (filled or 0.0))
    share = None if measured is None or not energy_j else measured / energy_j
    return {
        "gap_s": node.gaps_s.get(device_id),
        "gap_filled_kwh": None if filled is None else filled / J_PER_KWH,
        "measured_kwh": None if measured is None else measured / J_PER_KWH,
        "measured_share": share,
        "measured_by": node.measured_by.get(device_id, []),
    }


def job_runs(ledger: Ledger, key: str) -> list[RunRecord]:
    """The runs of job ``key``, oldest first (the ledger's index when it has one)."""
    finder = getattr(ledger, "job_runs", None)
    if callable(finder):
        found: list[RunRecord] = finder(key)
        return found
    runs = [r for r in ledger.list_runs() if r.job is not None and r.job.key == key]
    return sorted(runs, key=lambda r: r.started_at)


def _sharing_runs(
    runs: Sequence[RunRecord], others_pool: Sequence[RunRecord]
) -> dict[str, list[RunRecord]]:
    """Per run of the job, the runs of no job or another that share its host at once."""
    from carbonledger.lifecycle.sharing import runs_overlap

    now = time.time()
    return {r.run_id: [o for o in others_pool if runs_overlap(r, o, now=now)] for r in runs}


def _unrelated_sharing(
    ledger: Ledger, run: RunRecord, samples: Sequence[Sample], others: Sequence[RunRecord]
) -> tuple[list[Sample], list[str]]:
    """The run's samples split with overlapping runs on its host that are not of the job."""
    from carbonledger.lifecycle.sharing import OtherRun, share_samples

    if not others:
        return list(samples), []
    sharing = share_samples(
        run.run_id,
        Scope(run.scope),
        samples,
        [OtherRun(r.run_id, Scope(r.scope), ledger.samples(r.run_id)) for r in others],
    )
    return list(sharing.samples), list(sharing.warnings)


def _not_of_job(ledger: Ledger, runs: Sequence[RunRecord]) -> list[RunRecord]:
    """Runs of other jobs (or none) that overlap the job's time: read once."""
    ids = {r.run_id for r in runs}
    start = min(r.started_at for r in runs)
    ends = [r.ended_at for r in runs]
    end = math.inf if any(e is None for e in ends) else max(e for e in ends if e is not None)
    return [
        r
        for r in ledger.list_runs()
        if r.run_id not in ids and r.started_at < end and (r.ended_at is None or r.ended_at > start)
    ]


@dataclass
class _NodeFacts:
    """What pricing a node needs from its runs' samples, however it was read."""

    totals: dict[str, DeviceTotals]
    steps: StepEnergy | None
    gaps: dict[str, float]
    filled: dict[str, float]
    overlaps: dict[str, float]
    measured_by: dict[str, list[str]]
    measured_of: dict[str, set[str]]
    notes: list[str]
    timeline: Callable[[str], Timeline | None]  # device -> the node's merged timeline
    merged: list[Sample] | None = None  # read sample by sample: the node's samples


def job_footprint(ledger: Ledger, key: str, *, sample_by_sample: bool = False) -> JobFootprint:
    """The footprint of job ``key``; RunNotFoundError when the ledger has no run of it.

    Nodes are priced from sums the ledger takes over their samples per device and
    intensity step (:mod:`carbonledger.store.device_hours`), without loading them, where
    that gives the same answer: no run of another job shares the host, and each device's
    runs measured it one after another, each without gaps. Other nodes (and all, with
    ``sample_by_sample``) are read sample by sample. A standby rank's span that needs the
    node's energy over its window reads that device's samples.
    """
    from carbonledger.lifecycle.pricing import plan_for_run, price_totals

    runs = job_runs(ledger, key)
    if not runs:
        raise RunNotFoundError(f"no run of job {key!r} in this ledger")
    notes: list[str] = []
    others_pool = _not_of_job(ledger, runs)
    embodied_cache: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    by_node: dict[str, list[RunRecord]] = defaultdict(list)
    for r in runs:
        assert r.job is not None
        by_node[r.job.node].append(r)
    device_lists = {r.run_id: ledger.devices(r.run_id) for r in runs}
    sharing = _sharing_runs(runs, others_pool)
    sample_cache: dict[str, list[Sample]] = {}

    def samples_of(run_id: str) -> list[Sample]:
        if run_id not in sample_cache:
            sample_cache[run_id] = ledger.samples(run_id)
        return sample_cache[run_id]

    summed = {
        node: node_runs
        for node, node_runs in by_node.items()
        if not sample_by_sample and not any(sharing[r.run_id] for r in node_runs)
    }
    guessed = _guess_bounds(ledger, summed, device_lists)
    facts: dict[tuple[str, str], DeviceSteps] = {}
    for guess in set(guessed.values()):
        ids = [r.run_id for n, b in guessed.items() if b == guess for r in summed[n]]
        facts.update(device_steps(ledger, ids, guess))

    nodes: list[NodeFootprint] = []
    ranks: list[RankRow] = []
    for node, node_runs in sorted(by_node.items()):
        devices: dict[str, DeviceInfo] = {}
        for r in node_runs:
            for d in device_lists[r.run_id]:
                devices.setdefault(d.device_id, d)
        if any(Scope(r.scope) is Scope.PROCESS for r in node_runs):
            notes.append(
                f"{node}: a run of the job has scope 'process'; its measured share covers "
                "its own process tree only, not the other ranks'"
            )
        start = min(r.started_at for r in node_runs)
        ends = [r.ended_at for r in node_runs if r.ended_at is not None]
        end = max(ends) if ends else None
        interval_s = min(r.interval_s for r in node_runs)
        span = (node, start, end, interval_s)
        node_facts: _NodeFacts | None = None
        if node in summed:
            measured_of = _measured_of(node_runs, facts)
            lead = next((r for r in node_runs if measured_of.get(r.run_id)), node_runs[0])
            node_notes: list[str] = []
            plan = plan_for_run(lead, ledger, notes=node_notes)
            bounds = _bounds(plan.series)
            if bounds != guessed[node]:  # the guess was wrong: sum again
                facts.update(device_steps(ledger, [r.run_id for r in node_runs], bounds))
            node_facts = _summed_node(node_runs, devices, facts, bounds, span, samples_of)
        if node_facts is None:
            node_facts = _node_sample_by_sample(ledger, node_runs, devices, sharing, span)
            lead = next(
                (r for r in node_runs if node_facts.measured_of.get(r.run_id)), node_runs[0]
            )
            node_notes = []
            plan = plan_for_run(lead, ledger, notes=node_notes)
            bounds = _bounds(plan.series)
            if bounds is not None and node_facts.merged is not None:
                node_facts.steps = steps_from_samples(node_facts.merged, bounds)
        notes.extend(node_facts.notes)
        node_run = replace(lead, started_at=start, ended_at=end, run_id=f"{key}@{node}")
        fp = price_totals(
            node_run,
            list(devices.values()),
            node_facts.totals,
            node_facts.steps if plan.series is not None else None,
            series=plan.series,
            average=plan.average,
            pue=plan.pue,
            embodied=_embodied(plan, list(devices.values()), node_run, node_notes, embodied_cache),
            warnings=node_notes,
        )
        notes.extend(f"{node}: {w}" for w in fp.warnings)
        fp = _widened(fp, math.fsum(node_facts.filled.values()))
        nodes.append(
            NodeFootprint(
                node,
                fp,
                node_facts.gaps,
                node_facts.filled,
                node_facts.overlaps,
                dict(node_facts.measured_by),
            )
        )
        for r in node_runs:
            ranks.append(
                _rank_row(
                    r,
                    node,
                    node_facts.measured_of.get(r.run_id, set()),
                    ledger.spans(r.run_id),
                    node_facts.timeline,
                )
            )

    restarts: dict[int, int] = defaultdict(int)
    for r in runs:
        assert r.job is not None
        restarts[r.job.restart] += 1
    if len(restarts) > 1:
        notes.append(
            f"the job restarted {max(restarts)} time(s); every attempt's energy counts "
            "(ranks are not comparable across restarts)"
        )
    ends = [r.ended_at for r in runs if r.ended_at is not None]
    return JobFootprint(
        key=key,
        nodes=tuple(nodes),
        ranks=tuple(
            sorted(ranks, key=lambda r: (r.restart, r.node, r.rank if r.rank is not None else -1))
        ),
        restarts=dict(restarts),
        started_at=min(r.started_at for r in runs),
        ended_at=max(ends) if len(ends) == len(runs) else None,
        warnings=tuple(dict.fromkeys(notes)),
    )


def _bounds(series: IntensitySeries | None) -> tuple[float, ...] | None:
    from carbonledger.lifecycle.pricing import series_bounds

    return None if series is None else series_bounds(series)


def _guess_bounds(
    ledger: Ledger,
    nodes: dict[str, list[RunRecord]],
    device_lists: dict[str, list[DeviceInfo]],
) -> dict[str, tuple[float, ...] | None]:
    """Per node, the series bounds of the run that most likely leads it (the first that
    holds devices), so the sums can be taken per step before knowing who measured."""
    from carbonledger.lifecycle.pricing import run_series

    out: dict[str, tuple[float, ...] | None] = {}
    for node, node_runs in nodes.items():
        guess = next((r for r in node_runs if device_lists[r.run_id]), node_runs[0])
        out[node] = _bounds(run_series(guess, ledger, []))
    return out


def _measured_of(
    node_runs: Sequence[RunRecord], facts: dict[tuple[str, str], DeviceSteps]
) -> dict[str, set[str]]:
    ids = {r.run_id for r in node_runs}
    out: dict[str, set[str]] = defaultdict(set)
    for run_id, device_id in facts:
        if run_id in ids:
            out[run_id].add(device_id)
    return out


def _tiled(groups: Sequence[DeviceSteps]) -> bool:
    """True when the runs' samples of one device follow one another (no run's overlap
    another's) and each run's have no gap longer than a microsecond in all: their sums
    then give what the merged timeline gives. (A gap exactly as long as an overlap of a
    run's samples with each other is not seen: one sampler writes them in sequence.)"""
    for g in groups:
        assert g.t_min is not None and g.t_max is not None
        if not (g.t_max - g.t_min - 1e-6 <= g.duration_s <= g.t_max - g.t_min):
            return False
    return all(
        b.t_min is not None and a.t_max is not None and b.t_min >= a.t_max
        for a, b in itertools.pairwise(groups)
    )


def _add_totals(
    device_id: str, parts: Sequence[DeviceSteps], fill: Sequence[Sample]
) -> DeviceTotals:
    hosts = [p.host_energy_j for p in parts if p.host_energy_j is not None]
    hosts += [s.host_energy_j for s in fill if s.host_energy_j is not None]
    energies = [p.energy_j for p in parts if p.energy_j is not None]
    energies += [s.energy_j for s in fill if s.energy_j is not None]
    ends = [p.t_max for p in parts if p.t_max is not None] + [s.t_end for s in fill]
    return DeviceTotals(
        device_id=device_id,
        host_energy_j=math.fsum(hosts) if hosts else None,
        energy_j=math.fsum(energies) if energies else None,
        samples=sum(p.samples for p in parts) + len(fill),
        missing=sum(p.missing for p in parts),
        covered_s=math.fsum([*(p.covered_s for p in parts), *(s.duration_s for s in fill)]),
        t_end=max(ends) if ends else None,
    )


def _add_steps(parts: Sequence[StepEnergy]) -> StepEnergy:
    acc: dict[int, list[float | int]] = {}
    rest: list[Sample] = []
    for part in parts:
        for k, (j, nonzero) in part.steps.items():
            row = acc.setdefault(k, [0.0, 0])
            row[0] += j
            row[1] += nonzero
        rest.extend(part.rest)
    return StepEnergy({k: (float(v[0]), int(v[1])) for k, v in acc.items()}, tuple(rest))


def _summed_node(
    node_runs: Sequence[RunRecord],
    devices: dict[str, DeviceInfo],
    facts: dict[tuple[str, str], DeviceSteps],
    bounds: tuple[float, ...] | None,
    span: tuple[str, float, float | None, float],
    samples_of: Callable[[str], list[Sample]],
) -> _NodeFacts | None:
    """A node's facts from the per (run, device, step) sums; None when its devices' runs
    overlap or have gaps inside (then the samples must be merged one by one)."""
    node, start, end, interval_s = span
    order = {r.run_id: i for i, r in enumerate(node_runs)}
    per_device: dict[str, list[DeviceSteps]] = defaultdict(list)
    for (run_id, device_id), f in facts.items():
        if run_id in order:
            per_device[device_id].append(f)
    measured_by: dict[str, list[str]] = {}
    measured_of: dict[str, set[str]] = defaultdict(set)
    for device_id, parts in per_device.items():
        parts.sort(key=lambda f: order[f.run_id])
        measured_by[device_id] = [f.run_id for f in parts]
        for f in parts:
            measured_of[f.run_id].add(device_id)
    totals: dict[str, DeviceTotals] = {}
    step_parts: list[StepEnergy] = []
    gaps: dict[str, float] = {}
    filled: dict[str, float] = {}
    notes: list[str] = []
    for device_id in devices:
        groups = sorted(
            (f for f in per_device.get(device_id, []) if f.samples > 0),
            key=lambda f: (f.t_min, f.t_max),
        )
        if not _tiled(groups):
            return None
        tl_end = max((g.t_max for g in groups if g.t_max is not None), default=start)
        last = end if end is not None else tl_end
        fill: list[Sample] = []
        energies = [g.energy_j for g in groups if g.energy_j is not None]
        if energies and last > start:
            power_w = math.fsum(energies) / math.fsum(g.known_s for g in groups)
            blocks = [
                (g.t_min, g.t_max) for g in groups if g.t_min is not None and g.t_max is not None
            ]
            fill = fill_samples(device_id, power_w, fill_stretches(blocks, start, last))
        gaps[device_id] = math.fsum(s.duration_s for s in fill)
        filled[device_id] = math.fsum(s.energy_j or 0.0 for s in fill)
        if fill and gaps[device_id] >= _NOTED_GAP_S:
            notes.append(_gap_note(node, device_id, gaps[device_id], filled[device_id]))
        elif not groups and interval_s > 0:
            gaps[device_id] = max(0.0, last - start)
        if groups or fill:
            totals[device_id] = _add_totals(device_id, groups, fill)
        if bounds is not None:
            step_parts.extend(g.steps for g in groups if g.steps is not None)
            if fill:
                step_parts.append(steps_from_samples(fill, bounds))
    timelines: dict[str, Timeline] = {}

    def timeline(device_id: str) -> Timeline | None:
        if device_id not in devices:
            return None
        if device_id not in timelines:
            timelines[device_id] = merge_samples(
                [
                    [s for s in samples_of(run_id) if s.device_id == device_id]
                    for run_id in measured_by.get(device_id, [])
                ]
            )
        return timelines[device_id]

    return _NodeFacts(
        totals=totals,
        steps=_add_steps(step_parts) if bounds is not None else None,
        gaps=gaps,
        filled=filled,
        overlaps=dict.fromkeys(devices, 0.0),
        measured_by=measured_by,
        measured_of=dict(measured_of),
        notes=notes,
        timeline=timeline,
    )


def _node_sample_by_sample(
    ledger: Ledger,
    node_runs: Sequence[RunRecord],
    devices: dict[str, DeviceInfo],
    sharing: dict[str, list[RunRecord]],
    span: tuple[str, float, float | None, float],
) -> _NodeFacts:
    """A node's facts from its runs' samples, merged per device one by one."""
    node, start, end, interval_s = span
    per_device: dict[str, list[list[Sample]]] = defaultdict(list)
    measured_by: dict[str, list[str]] = defaultdict(list)
    measured_of: dict[str, set[str]] = defaultdict(set)
    notes: list[str] = []
    for r in node_runs:
        own = ledger.samples(r.run_id)
        if not own:
            continue
        shared, warns = _unrelated_sharing(ledger, r, own, sharing[r.run_id])
        notes.extend(f"{node}: {w}" for w in warns)
        grouped: dict[str, list[Sample]] = defaultdict(list)
        for s in shared:
            grouped[s.device_id].append(s)
        for device_id, rows in grouped.items():
            per_device[device_id].append(rows)
            measured_by[device_id].append(r.run_id)
            measured_of[r.run_id].add(device_id)
    merged: list[Sample] = []
    gaps: dict[str, float] = {}
    filled: dict[str, float] = {}
    overlaps: dict[str, float] = {}
    timelines: dict[str, Timeline] = {}
    for device_id in devices:
        tl = merge_samples(per_device.get(device_id, []))
        timelines[device_id] = tl
        merged.extend(tl.samples)
        overlaps[device_id] = tl.overlap_s
        last = end if end is not None else max((s.t_end for s in tl.samples), default=start)
        fill, gaps[device_id], filled[device_id] = fill_gaps(tl, start, last)
        merged.extend(fill)
        if tl.overlap_s > 0:
            notes.append(
                f"{node}: {device_id} was measured by two processes at once for "
                f"{tl.overlap_s:.1f} s; counted once"
            )
        if fill and gaps[device_id] >= _NOTED_GAP_S:
            notes.append(_gap_note(node, device_id, gaps[device_id], filled[device_id]))
        elif not tl.samples and interval_s > 0:
            gaps[device_id] = max(0.0, last - start)
    return _NodeFacts(
        totals=totals_from_samples(merged),
        steps=None,
        gaps=gaps,
        filled=filled,
        overlaps=overlaps,
        measured_by=dict(measured_by),
        measured_of=dict(measured_of),
        notes=notes,
        timeline=timelines.get,
        merged=merged,
    )


def _embodied(
    plan: Any,
    devices: list[DeviceInfo],
    run: RunRecord,
    notes: list[str],
    cache: dict[tuple[Any, ...], tuple[Any, ...]],
) -> tuple[Any, ...]:
    """Embodied items of a node; nodes with the same hardware, host facts and time share
    one look-up (the catalog match is the slow part on a large job)."""
    key = (
        tuple((d.device_id, d.name, str(d.component)) for d in devices),
        run.duration_s,
        plan.embodied_preset,
        repr(sorted((k, repr(v)) for k, v in (plan.host or {}).items() if k not in _NOT_HARDWARE)),
    )
    if key not in cache:
        found: list[str] = []
        cache[key] = (plan.embodied(devices, run.duration_s, found), tuple(found))
    items, found_notes = cache[key]
    notes.extend(found_notes)
    return tuple(items)


def _widened(fp: Footprint, filled_j: float) -> Footprint:
    """The node's energy interval widened by the modelled gap energy (±100 %)."""
    if filled_j <= 0 or fp.energy_interval_j is None:
        return fp
    lo, hi = fp.energy_interval_j
    return replace(fp, energy_interval_j=(max(0.0, lo - filled_j), hi + filled_j))


def _rank_row(
    run: RunRecord,
    node: str,
    measured: set[str],
    spans: Sequence[SpanRecord],
    timeline: Callable[[str], Timeline | None],
) -> RankRow:
    assert run.job is not None
    rows: list[dict[str, Any]] = []
    for span in spans:
        filled = False
        energy: dict[str, float | None] = {}
        for device_id, value in span.energy_j.items():
            if value is None and span.ended_at is not None:
                tl = timeline(device_id)
                if tl is not None:
                    value, _ = energy_between(tl, span.started_at, span.ended_at)
                    filled = filled or value is not None
            energy[device_id] = value
        known = [v for v in energy.values() if v is not None]
        unknown = sorted(d for d, v in energy.items() if v is None)
        rows.append(
            {
                "path": span.path,
                "started_at": iso_utc(span.started_at),
                "ended_at": iso_utc(span.ended_at),
                # a sum over some devices is not the span's energy: unknown if any is
                "energy_kwh": None if unknown or not known else math.fsum(known) / J_PER_KWH,
                "known_energy_kwh": math.fsum(known) / J_PER_KWH if known else None,
                "unknown_devices": unknown,
                "filled_from_measurer": filled,
            }
        )
    return RankRow(
        run_id=run.run_id,
        node=node,
        rank=run.job.rank,
        local_rank=run.job.local_rank,
        restart=run.job.restart,
        status=str(run.status),
        measured=tuple(sorted(measured)),
        spans=tuple(rows),
    )
