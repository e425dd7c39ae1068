"""What experiment trackers (MLflow, W&B) receive from a footprint: pure functions.

Metrics are in joules and grams CO2e (small figures stay readable per step), each with
its interval as ``_low``/``_high`` where the footprint has one; a missing figure is left
out, never logged as 0. Spans are step-wise: one step per top-level span, in order.
Methods and sources are text (tags).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from carbonledger.lifecycle.footprint import Footprint, SpanFootprint

__all__ = [
    "DEFAULT_PREFIX",
    "SpanStep",
    "footprint_metrics",
    "footprint_tags",
    "span_steps",
]

DEFAULT_PREFIX = "carbonledger"
_TAG_MAX = 5000  # MLflow's tag value limit is larger; keep tags readable


@dataclass(frozen=True)
class SpanStep:
    """One top-level span as a step: its index, end time (unix s) and metrics."""

    step: int
    path: str
    ended_at: float | None
    metrics: dict[str, float]


def _with_interval(
    out: dict[str, float],
    key: str,
    value: float | None,
    interval: tuple[float, float] | None,
) -> None:
    if value is not None:
        out[key] = float(value)
    if interval is not None:
        out[f"{key}_low"] = float(interval[0])
        out[f"{key}_high"] = float(interval[1])


def footprint_metrics(fp: Footprint, prefix: str = DEFAULT_PREFIX) -> dict[str, float]:
    """The run's figures: energy (IT and facility), emissions (operational, embodied,
    total) with intervals, duration, intensity, energy per component."""
    out: dict[str, float] = {}
    p = f"{prefix}/"
    _with_interval(out, p + "energy_j", fp.energy_j, fp.energy_interval_j)
    if fp.facility_energy_j is not None:
        out[p + "facility_energy_j"] = fp.facility_energy_j
    _with_interval(out, p + "emissions_g", fp.total_g, fp.total_interval_g)
    if fp.operational_g is not None:
        out[p + "operational_g"] = fp.operational_g
    if fp.embodied_g is not None:
        out[p + "embodied_g"] = fp.embodied_g
    if fp.duration_s is not None:
        out[p + "duration_s"] = fp.duration_s
    if fp.intensity.g_per_kwh is not None:
        out[p + "intensity_g_per_kwh"] = fp.intensity.g_per_kwh
    out[p + "pue"] = fp.pue
    by_component: dict[str, float] = {}
    for c in fp.components:
        if c.energy_j is not None:
            by_component[c.component] = by_component.get(c.component, 0.0) + c.energy_j
    for component, joules in sorted(by_component.items()):
        out[f"{p}{component}_energy_j"] = joules
    if fp.functional_unit is not None and fp.functional_unit.g_per_unit is not None:
        out[p + "emissions_g_per_unit"] = fp.functional_unit.g_per_unit
    return out


def _unix(iso: str | None) -> float | None:
    if iso is None:
        return None
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _span_metrics(span: SpanFootprint, prefix: str) -> dict[str, float]:
    out: dict[str, float] = {}
    _with_interval(out, f"{prefix}/span_energy_j", span.energy_j, span.energy_interval_j)
    _with_interval(out, f"{prefix}/span_emissions_g", span.total_g, span.total_interval_g)
    return out


def span_steps(fp: Footprint, prefix: str = DEFAULT_PREFIX) -> list[SpanStep]:
    """One step per top-level span (``path`` without ``/``), numbered from 0 in order of
    start; spans without any figure still take their step (so steps match the loop)."""
    top = [s for s in fp.spans if "/" not in s.path]
    top.sort(key=lambda s: _unix(s.started_at) or 0.0)
    return [
        SpanStep(i, s.path, _unix(s.ended_at), _span_metrics(s, prefix)) for i, s in enumerate(top)
    ]


def _clip(text: str) -> str:
    clean = "".join(ch if ch.isprintable() else " " for ch in text)
    return clean if len(clean) <= _TAG_MAX else clean[: _TAG_MAX - 1] + "…"


def footprint_tags(fp: Footprint, prefix: str = DEFAULT_PREFIX) -> dict[str, str]:
    """Methods, sources and settings as text: which device was measured or modelled,
    where the intensity and PUE came from, the zone, scope, phase, caveats."""
    p = f"{prefix}."
    tags: dict[str, str] = {
        p + "run_id": fp.run_id or "",
        p + "name": fp.name,
        p + "phase": fp.phase,
        p + "scope": fp.scope,
        p + "status": fp.status,
        p + "zone": fp.intensity.zone or "",
        p + "pue_source": fp.pue_source,
        p + "intensity_method": fp.intensity.method,
        p + "intensity_source": fp.intensity.source,
        p + "intensity_time_aligned": str(fp.intensity.time_aligned).lower(),
    }
    methods: dict[str, list[str]] = {}
    sources: dict[str, list[str]] = {}
    for c in fp.components:
        if c.method not in methods.setdefault(c.component, []):
            methods[c.component].append(c.method)
        if c.source not in sources.setdefault(c.component, []):
            sources[c.component].append(c.source)
    for component in sorted(methods):
        tags[f"{p}{component}.method"] = ", ".join(methods[component])
        tags[f"{p}{component}.source"] = "; ".join(sources[component])
    if fp.embodied:
        tags[p + "embodied_source"] = "; ".join(sorted({e.source for e in fp.embodied}))
    if fp.attribution is not None:
        tags[p + "attribution"] = fp.attribution.method
    if fp.warnings:
        tags[p + "warnings"] = " | ".join(fp.warnings)
    return {key: _clip(value) for key, value in tags.items() if value != ""}
