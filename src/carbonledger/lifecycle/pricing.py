"""Pricing a measured run: energy × PUE × intensity (time-aligned when a series covers it)
plus embodied emissions, with uncertainty. Carbon is derived here, never stored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from carbonledger.intensity.base import IntensityValue
from carbonledger.intensity.series import IntensitySeries
from carbonledger.lifecycle.footprint import (
    Attribution,
    ComponentEnergy,
    EmbodiedItem,
    Footprint,
    FunctionalUnit,
    IntensityUsed,
    SpanFootprint,
)
from carbonledger.lifecycle.plan import (
    PricingPlan,
    PUEChoice,
    average_intensity,
    plan_for,
    resolve_pue,
)
from carbonledger.lifecycle.sharing import (
    ALONE,
    OtherRun,
    Sharing,
    find_overlapping_runs,
    share_samples,
)
from carbonledger.lifecycle.uncertainty import combine_rel, interval, sum_rel
from carbonledger.records import DeviceInfo, Method, RunRecord, Sample, Scope, SpanRecord
from carbonledger.sampling.integrate import power_integration_rel
from carbonledger.store.aggregates import (
    OUTSIDE,
    DeviceTotals,
    StepEnergy,
    energy_by_step,
    run_totals,
    steps_from_samples,
    totals_from_samples,
)
from carbonledger.store.run_facts import RunFacts, facts_from_reads
from carbonledger.timeutil import iso_utc
from carbonledger.units import J_PER_KWH

if TYPE_CHECKING:
    from carbonledger.lifecycle.pricing_memo import PricingMemo
    from carbonledger.store.base import Ledger, MetricValue

__all__ = [
    "PUEChoice",
    "Prefetched",
    "average_intensity",
    "footprint_for_run",
    "iso_utc",
    "plan_for_run",
    "price_run",
    "price_totals",
    "resolve_pue",
    "series_bounds",
    "stored_series",
]


def _sum_rel(terms: Sequence[tuple[float, float | None]]) -> float | None:
    """Relative error of a positive sum of independent terms; None for a zero sum."""
    return sum_rel(terms) if sum(v for v, _ in terms) > 0 else None


def price_run(
    run: RunRecord,
    devices: Sequence[DeviceInfo],
    samples: Sequence[Sample],
    spans: Sequence[SpanRecord] = (),
    metrics: Mapping[str, MetricValue] | None = None,
    functional_unit: tuple[str, float] | None = None,
    *,
    series: IntensitySeries | None = None,
    average: IntensityValue | None = None,
    pue: PUEChoice | None = None,
    embodied: Sequence[EmbodiedItem] = (),
    warnings: Sequence[str] = (),
) -> Footprint:
    """The footprint of a run from its raw facts. Pure: everything comes in as arguments."""
    return price_totals(
        run,
        devices,
        totals_from_samples(samples),
        steps_from_samples(samples, series_bounds(series)) if series is not None else None,
        spans,
        metrics,
        functional_unit,
        series=series,
        average=average,
        pue=pue,
        embodied=embodied,
        warnings=warnings,
    )


def _power_integrated(device: DeviceInfo) -> bool:
    """An NVIDIA GPU without an energy counter: its energy is integrated from power."""
    return device.device_id.startswith("nvml:") and device.details.get("energy_counter") is False


def device_rel(device: DeviceInfo, window_s: float | None) -> float | None:
    """The device's relative error over a window of ``window_s`` seconds: widened for
    short windows when its energy is integrated from NVML power readings (see
    :func:`power_integration_rel`); the device's own figure otherwise."""
    rel = device.uncertainty_rel
    if rel is None or window_s is None or not _power_integrated(device):
        return rel
    return power_integration_rel(window_s, rel)


def series_bounds(series: IntensitySeries) -> tuple[float, ...]:
    """The series' step starts and its end: step ``k`` is ``[bounds[k], bounds[k+1])``."""
    return (*series.times, series.end)


def price_totals(
    run: RunRecord,
    devices: Sequence[DeviceInfo],
    totals: Mapping[str, DeviceTotals],
    steps: StepEnergy | None,
    spans: Sequence[SpanRecord] = (),
    metrics: Mapping[str, MetricValue] | None = None,
    functional_unit: tuple[str, float] | None = None,
    *,
    series: IntensitySeries | None = None,
    average: IntensityValue | None = None,
    pue: PUEChoice | None = None,
    embodied: Sequence[EmbodiedItem] = (),
    warnings: Sequence[str] = (),
    attribution: Attribution | None = None,
) -> Footprint:
    """:func:`price_run` from the samples' sums (per device, and per series step when a
    ``series`` prices the run): what a ledger aggregates without loading samples. Pure."""
    notes = list(warnings)
    pue = pue or resolve_pue(run.pue, run.zone)
    average = average or average_intensity(run.zone)
    end = (
        run.ended_at
        if run.ended_at is not None
        else max((t.t_end for t in totals.values() if t.t_end is not None), default=None)
    )
    duration_s = None if end is None else max(0.0, end - run.started_at)

    components: list[ComponentEnergy] = []
    lower_bound = False  # a device missed readings: its energy is a lower bound
    for device in devices:
        t = totals.get(device.device_id)
        host_j = t.host_energy_j if t is not None else None
        energy_j = t.energy_j if t is not None else None
        covered_s = t.covered_s if t is not None else 0.0
        notes.extend(str(w) for w in device.details.get("warnings") or ())  # model caveats
        gaps = t.missing if t is not None else 0
        if gaps:
            lower_bound = True
            notes.append(
                f"{device.device_id}: {gaps} interval(s) without a reading; energy is a lower bound"
            )
        components.append(
            ComponentEnergy(
                component=str(device.component),
                device=device.device_id,
                name=device.name,
                energy_j=energy_j,
                host_energy_j=host_j,
                mean_power_w=(host_j / covered_s) if host_j is not None and covered_s > 0 else None,
                method=str(device.method) if energy_j is not None else str(Method.UNAVAILABLE),
                source=device.source,
                uncertainty_rel=device_rel(device, covered_s),
            )
        )
    known_components = [c for c in components if c.energy_j is not None]
    unknown_components = [c.device for c in components if c.energy_j is None]
    if known_components and unknown_components:
        notes.append(
            f"no reading at all from {', '.join(unknown_components)}: the energy total leaves "
            "it out and is a lower bound"
        )
    energy_j = sum(c.energy_j or 0.0 for c in known_components) if known_components else None
    energy_rel = _sum_rel([(c.energy_j or 0.0, c.uncertainty_rel) for c in known_components])
    if not devices:
        notes.append("no sensor was available: energy is unknown")

    # operational carbon, time-aligned where a series covers the samples
    intensity, operational_g = _operational(steps, pue.value, series, average, energy_j, notes)
    embodied_g = sum(e.g for e in embodied) if embodied else 0.0
    total_g = None if operational_g is None else operational_g + embodied_g

    # a total that is a lower bound (a device without readings, or gaps in one) has no
    # symmetric interval: the warning says what is missing, and no upper end is claimed
    energy_interval = None
    if (
        energy_j is not None
        and energy_rel is not None
        and not unknown_components
        and not lower_bound
    ):
        energy_interval = interval(energy_j, energy_rel)
    total_interval = None
    if (
        operational_g is not None
        and not unknown_components
        and not lower_bound
        and energy_rel is not None
        and intensity.uncertainty_rel is not None
    ):
        op_rel = combine_rel(energy_rel, intensity.uncertainty_rel)
        terms = [(operational_g, op_rel)] + [(e.g, e.uncertainty_rel) for e in embodied]
        total_interval = interval(total_g, _sum_rel(terms))

    span_rows = tuple(
        _with_span_intervals(
            _span_footprint(span, pue.value, series, intensity, run, duration_s, embodied_g),
            energy_rel,
            intensity.uncertainty_rel,
            _sum_rel([(e.g, e.uncertainty_rel) for e in embodied]) if embodied else 0.0,
            embodied_g,
            run_duration_s=duration_s,
            span=span,
            devices=devices,
        )
        for span in spans
    )
    fu = _functional_unit(functional_unit, total_g, total_interval)

    return Footprint(
        run_id=run.run_id,
        name=run.name,
        phase=run.phase,
        status=str(run.status),
        started_at=iso_utc(run.started_at),
        ended_at=iso_utc(run.ended_at),
        duration_s=duration_s,
        scope=str(run.scope),
        host=dict(run.host),
        energy_j=energy_j,
        pue=pue.value,
        pue_source=pue.source,
        intensity=intensity,
        operational_g=operational_g,
        embodied_g=embodied_g if embodied else None,
        energy_interval_j=energy_interval,
        total_interval_g=total_interval,
        components=tuple(components),
        embodied=tuple(embodied),
        spans=span_rows,
        metrics=dict(metrics or {}),
        functional_unit=fu,
        tags=dict(run.tags),
        warnings=tuple(dict.fromkeys(notes)),
        job=_job_dict(run),
        attribution=attribution,
    )


def _job_dict(run: RunRecord) -> dict[str, Any] | None:
    """The footprint's ``job``: the run's distributed identity, or None."""
    job = getattr(run, "job", None)
    if job is None:
        return None
    return {k: v for k, v in job.to_dict().items() if k != "launcher"}


def _operational(
    steps: StepEnergy | None,
    pue: float,
    series: IntensitySeries | None,
    average: IntensityValue,
    energy_j: float | None,
    notes: list[str],
) -> tuple[IntensityUsed, float | None]:
    if energy_j is None:
        used = IntensityUsed.from_value(average)
        return used, None
    if series is None:
        used = IntensityUsed.from_value(average)
        return used, energy_j * pue / J_PER_KWH * average.g_per_kwh

    covered_j = 0.0
    grams = 0.0
    series_g = 0.0  # grams priced from the series
    weighted_rel_g = 0.0  # Σ grams × the relative uncertainty of the point that priced them
    methods: set[str] = set()
    steps = steps or StepEnergy()
    # samples wholly inside one step are priced at its value, summed per step
    for k, (step_j, nonzero) in sorted(steps.steps.items()):
        if not nonzero:
            continue
        facility_kwh = step_j * pue / J_PER_KWH
        if k == OUTSIDE:
            grams += facility_kwh * average.g_per_kwh
            continue
        g = facility_kwh * series.values_g_per_kwh[k]
        method, rel = series.point_label(k)
        methods.add(method)
        series_g += g
        weighted_rel_g += g * rel
        covered_j += step_j
    # the few that straddle a step boundary (or last no time), one by one
    for s in steps.rest:
        if s.energy_j is None or s.energy_j == 0:
            continue
        facility_kwh = s.energy_j * pue / J_PER_KWH
        if s.t_end > s.t_start:
            parts = series.segments(s.t_start, s.t_end)
            duration = s.t_end - s.t_start
        else:
            i = series.index_at(s.t_start)
            parts, duration = ([(i, 1.0)] if i is not None else []), 1.0
        share = sum(seconds for _, seconds in parts) / duration
        for i, seconds in parts:
            g = facility_kwh * seconds / duration * series.values_g_per_kwh[i]
            method, rel = series.point_label(i)
            methods.add(method)
            series_g += g
            weighted_rel_g += g * rel
        grams += facility_kwh * (1 - share) * average.g_per_kwh
        covered_j += s.energy_j * share
    grams += series_g
    coverage = covered_j / energy_j if energy_j > 0 else 0.0
    facility_kwh_total = energy_j * pue / J_PER_KWH
    effective = grams / facility_kwh_total if facility_kwh_total > 0 else None
    aligned = coverage >= 1.0 - 1e-9
    if not aligned:
        notes.append(
            f"the intensity series covered {coverage:.1%} of the run's energy; "
            f"the rest is priced at {average.source}"
        )
    if coverage == 0:
        return IntensityUsed.from_value(average, coverage=0.0), grams
    # errors of one grid's consecutive hours are correlated: the grams-weighted mean of
    # the points' relative errors (docs/methodology/lifecycle.md, "Intensity of a run")
    series_rel = weighted_rel_g / series_g if series_g > 0 else series.uncertainty_rel
    rel = series_rel if aligned else max(series_rel, average.uncertainty_rel or 0)
    measured = aligned and methods <= {str(Method.MEASURED)}
    used = IntensityUsed(
        g_per_kwh=effective,
        zone=series.zone,
        signal=series.signal,
        basis=series.basis,
        method=str(Method.MEASURED if measured else Method.MODELED),
        source=series.source if aligned else f"{series.source} + {average.source}",
        time_aligned=aligned,
        coverage=coverage,
        uncertainty_rel=rel,
    )
    return used, grams


def _span_footprint(
    span: SpanRecord,
    pue: float,
    series: IntensitySeries | None,
    intensity: IntensityUsed,
    run: RunRecord,
    run_duration_s: float | None,
    embodied_g: float,
) -> SpanFootprint:
    known = [v for v in span.energy_j.values() if v is not None]
    energy_j = sum(known) if known else None
    total_g = None
    if energy_j is not None and intensity.g_per_kwh is not None:
        g_per_kwh = intensity.g_per_kwh
        if series is not None and span.ended_at is not None:
            mean, coverage = series.mean_over(span.started_at, span.ended_at)
            if mean is not None and coverage >= 1.0 - 1e-9:
                g_per_kwh = mean
        total_g = energy_j * pue / J_PER_KWH * g_per_kwh
        if embodied_g and run_duration_s and span.ended_at is not None:
            total_g += embodied_g * (span.ended_at - span.started_at) / run_duration_s
    return SpanFootprint(
        path=span.path,
        started_at=iso_utc(span.started_at),
        ended_at=iso_utc(span.ended_at),
        energy_j=energy_j,
        total_g=total_g,
    )


def _with_span_intervals(
    row: SpanFootprint,
    energy_rel: float | None,
    intensity_rel: float | None,
    embodied_rel: float | None,
    embodied_g: float,
    *,
    run_duration_s: float | None,
    span: SpanRecord,
    devices: Sequence[DeviceInfo] = (),
) -> SpanFootprint:
    """The span's energy and total with intervals: the run's relative errors, since a
    span is measured by the same sensors and priced with the same intensity; a span
    with a power-integrated GPU takes that device's error over the span's duration."""
    from dataclasses import replace

    widened = [d for d in devices if _power_integrated(d) and d.device_id in span.energy_j]
    if widened and energy_rel is not None and span.ended_at is not None:
        window = span.ended_at - span.started_at
        by_id = {d.device_id: d for d in devices}
        span_rel = _sum_rel(
            [
                (v, device_rel(by_id[k], window) if k in by_id else energy_rel)
                for k, v in span.energy_j.items()
                if v is not None
            ]
        )
        energy_rel = span_rel if span_rel is not None else energy_rel
    if row.energy_j is None or energy_rel is None:
        return row
    energy_iv = interval(row.energy_j, energy_rel)
    total_iv = None
    if row.total_g is not None:
        share_g = 0.0
        if embodied_g and run_duration_s and span.ended_at is not None:
            share_g = embodied_g * (span.ended_at - span.started_at) / run_duration_s
        op_g = row.total_g - share_g
        terms = [(op_g, combine_rel(energy_rel, intensity_rel))]
        if share_g:
            terms.append((share_g, embodied_rel))
        total_iv = interval(row.total_g, _sum_rel(terms))
    return replace(row, energy_interval_j=energy_iv, total_interval_g=total_iv)


def _functional_unit(
    functional_unit: tuple[str, float] | None,
    total_g: float | None,
    total_interval: tuple[float, float] | None,
) -> FunctionalUnit | None:
    """SCI per functional unit, with the total's interval divided by the count."""
    if functional_unit is None:
        return None
    name, count = functional_unit
    if total_g is None or count <= 0:
        return FunctionalUnit(name, count, None)
    per_unit = (
        None if total_interval is None else (total_interval[0] / count, total_interval[1] / count)
    )
    return FunctionalUnit(name, count, total_g / count, per_unit)


def stored_series(run: RunRecord, notes: list[str] | None = None) -> IntensitySeries | None:
    """The intensity series a run was tracked with (a CSV, or one recorded live), if any."""
    path = run.settings.get("intensity_series")
    if not path:
        return None
    from carbonledger.intensity.live import load_recorded_series

    if Path(path).is_file() or not run.settings.get("intensity_provider"):
        return load_recorded_series(Path(path), run.zone)
    if notes is not None:
        notes.append(f"no live intensity was recorded ({path} is missing); one average is used")
    return None


def plan_for_run(
    run: RunRecord,
    ledger: Ledger | None = None,
    *,
    series: IntensitySeries | None = None,
    notes: list[str] | None = None,
) -> PricingPlan:
    """The pricing plan of a stored run: ``series`` re-prices it; otherwise the series it
    was tracked with (kept in the ledger, or a file for runs recorded before that)."""
    if series is None:
        series = run_series(run, ledger, notes)
    preset = getattr(run, "embodied", None) or run.settings.get("embodied")
    return plan_for(run.zone, run.pue, series=series, embodied_preset=preset, host=run.host)


def run_series(
    run: RunRecord, ledger: Ledger | None, notes: list[str] | None = None
) -> IntensitySeries | None:
    """The intensity series a run was priced with: from the ledger when it keeps one."""
    reader = getattr(ledger, "series", None) if ledger is not None else None
    if reader is not None:
        kept: IntensitySeries | None = reader(run.run_id)
        if kept is not None:
            return kept
    return stored_series(run, notes)


@dataclass(frozen=True)
class Prefetched:
    """What a listing already read for a run, so pricing it reads no more of that:
    the run itself, the runs overlapping it on its host, its per-device totals (None:
    read them), its other stored facts (None: read them) and the listing's memo of what
    many runs share (None: compute it for this run)."""

    run: RunRecord
    others: Sequence[RunRecord]
    totals: Mapping[str, DeviceTotals] | None = None
    facts: RunFacts | None = None
    memo: PricingMemo | None = None


def footprint_for_run(
    ledger: Ledger,
    run_id: str,
    *,
    series: IntensitySeries | None = None,
    extra_warnings: Sequence[str] = (),
    prefetched: Prefetched | None = None,
) -> Footprint:
    """Price a stored run. ``series`` re-prices it (else the series it was tracked with).

    Alone on its host, the run is priced from sums the ledger takes over its samples
    (:mod:`carbonledger.store.aggregates`); sharing a host, sample by sample.
    """
    run = prefetched.run if prefetched is not None else ledger.get_run(run_id)
    facts = prefetched.facts if prefetched is not None else None
    memo = prefetched.memo if prefetched is not None else None
    if facts is None:
        facts = facts_from_reads(ledger, run.run_id, with_series=series is None)
    devices = facts.devices
    notes = list(extra_warnings)
    notes.extend(facts.warnings)
    if series is None:
        series = facts.series if facts.series is not None else stored_series(run, notes)
    preset = getattr(run, "embodied", None) or run.settings.get("embodied")
    if memo is not None:
        pue, average = memo.pue_and_average(run.zone, run.pue)
        plan = PricingPlan(pue, average, series, preset, run.host)
    else:
        plan = plan_for(run.zone, run.pue, series=series, embodied_preset=preset, host=run.host)
    others = find_overlapping_runs(ledger, run) if prefetched is None else prefetched.others
    if others:  # shared host: split sample by sample (lifecycle/sharing.py)
        sharing = _shared_host_step(ledger, run, others)
        totals: Mapping[str, DeviceTotals] = totals_from_samples(sharing.samples)
        steps = (
            steps_from_samples(sharing.samples, series_bounds(plan.series))
            if plan.series is not None
            else None
        )
    else:  # alone: sums where the samples live, none loaded
        sharing = Sharing(())
        totals = (
            prefetched.totals
            if prefetched is not None and prefetched.totals is not None
            else run_totals(ledger, run.run_id)
        )
        steps = (
            energy_by_step(ledger, run.run_id, series_bounds(plan.series))
            if plan.series is not None
            else None
        )
    held = _held_devices(run, devices, facts.standby, notes)
    if held is None:
        embodied: tuple[EmbodiedItem, ...] = ()
    elif memo is not None:
        embodied = memo.embodied(plan, held, run.duration_s, notes)
    else:
        embodied = plan.embodied(held, run.duration_s, notes)
    fp = price_totals(
        run,
        devices,
        totals,
        steps,
        [sharing.scale_span(s) for s in facts.spans] if not sharing.alone else facts.spans,
        facts.metrics,
        facts.functional_unit,
        series=plan.series,
        average=plan.average,
        pue=plan.pue,
        embodied=sharing.scale_embodied(embodied),
        warnings=[*notes, *sharing.warnings],
        attribution=_ALONE if sharing.alone else None,
    )
    return fp if sharing.alone else _with_attribution(fp, sharing)


def _held_devices(
    run: RunRecord, devices: Sequence[DeviceInfo], standby: Sequence[str], notes: list[str]
) -> Sequence[DeviceInfo] | None:
    """The devices whose embodied emissions the run carries: not those a job's standby
    rank held while another process of its job on the node measured them (that process
    carries them, and the job footprint counts them once per node); None when that
    leaves none, so no host share is charged either."""
    if not standby or run.job is None:
        return devices
    left_out = set(standby)
    own = [d for d in devices if d.device_id not in left_out]
    notes.append(
        f"job {run.job.key}: the embodied emissions of {', '.join(sorted(left_out))} are "
        f"carried by the process of the job that measured them on {run.job.node}, not by "
        "this run (carbonledger job counts them once per node)"
    )
    return own or None


# -- step: runs sharing the host (lifecycle/sharing.py) ------------------------------------
def _shared_host_step(ledger: Ledger, run: RunRecord, others: Sequence[RunRecord]) -> Sharing:
    """The run's samples split with the runs that overlapped it on its host, in its ledger."""
    return share_samples(
        run.run_id,
        Scope(run.scope),
        ledger.samples(run.run_id),
        [OtherRun(r.run_id, Scope(r.scope), ledger.samples(r.run_id)) for r in others],
        duration_s=run.duration_s,
    )


_ALONE = Attribution(ALONE)


def _with_attribution(fp: Footprint, sharing: Sharing) -> Footprint:
    if sharing.alone:
        return replace(fp, attribution=Attribution(ALONE))
    attribution = Attribution(
        sharing.method,
        shared_s=sharing.shared_s,
        energy_alone_j=sharing.energy_alone_j,
        embodied_factor=sharing.embodied_factor,
    )
    return replace(fp, shared_with=sharing.shared_with, attribution=attribution)
