"""The charts of the HTML reports, written as inline SVG by :mod:`carbonledger.report.svg`.

No plotting library: each chart is string building over numbers computed in
:mod:`carbonledger.report.chart_data`, about a millisecond per chart, so a report of
thousands of runs takes seconds. Every chart function returns SVG text, or None when there
is nothing to draw. User text (span paths, run names, zones) is escaped by the writer; a
missing value is a gap or an absent bar, never a zero.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from itertools import pairwise
from typing import Any

from carbonledger.intensity.series import IntensitySeries
from carbonledger.lifecycle.footprint import Footprint
from carbonledger.records import DeviceInfo, Sample, SpanRecord
from carbonledger.report.chart_data import (
    binned_power,
    binned_power_total,
    component_power,
    run_window,
)
from carbonledger.report.numbers import ENERGY_UNITS, MASS_UNITS, pick_unit
from carbonledger.report.svg import (
    CHAR_PX,
    SMALL_PX,
    LegendItem,
    Plot,
    labelled,
    nice_ticks,
    time_ticks,
    value_range,
)
from carbonledger.units import j_to_kwh

__all__ = [
    "COMPONENT_COLORS",
    "available",
    "binned_power",
    "carbon_split_chart",
    "component_power",
    "energy_by_component_chart",
    "intensity_chart",
    "pareto_chart",
    "power_chart",
]

COMPONENT_COLORS = {"cpu": "#1f77b4", "gpu": "#2ca02c", "ram": "#9467bd", "other": "#7f7f7f"}
COMPONENT_ORDER = ("gpu", "cpu", "ram", "other")
MAX_BINS = 400
MAX_SPAN_LABELS = 12
WIDE_PX = 900.0
NARROW_PX = 640.0


def available() -> bool:
    """Whether charts can be drawn: always (they need no optional package any more)."""
    return True


def _component_rank(component: str) -> tuple[int, str]:
    order = COMPONENT_ORDER.index(component) if component in COMPONENT_ORDER else 99
    return (order, component)


def _top_level(spans: Sequence[SpanRecord]) -> list[SpanRecord]:
    return [s for s in spans if "/" not in s.path]


def _g(value: float) -> str:
    return f"{value:.3g}"


def _summary(name: str, values: Sequence[float | None], unit: str) -> str:
    known = [v for v in values if v is not None and math.isfinite(v)]
    if not known:
        return f"{name}: no reading"
    gaps = len(values) - len(known)
    gap_text = f", {gaps} of {len(values)} intervals without a reading" if gaps else ""
    mean = math.fsum(known) / len(known)
    return f"{name}: mean {_g(mean)} {unit}, peak {_g(max(known))} {unit}{gap_text}"


def _hms(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%H:%M:%S")


# -- power over time ---------------------------------------------------------------------


def power_chart(
    fp: Footprint,
    samples: Sequence[Sample],
    devices: Sequence[DeviceInfo],
    spans: Sequence[SpanRecord] = (),
    *,
    salt: str = "power",
) -> str | None:
    """Power over time per component (step lines), top-level spans shaded and named."""
    window = run_window(fp, samples)
    if not samples or window is None:
        return None
    t0, t1 = window
    if not t1 > t0:
        return None
    per_device = max(1, len(samples) // max(1, len({s.device_id for s in samples})))
    bins = max(1, min(MAX_BINS, per_device))
    powers = component_power(samples, devices, t0, t1, bins)
    names = sorted(powers, key=_component_rank)
    desc = "; ".join(_summary(n.upper(), powers[n], "W") for n in names)
    plot = Plot(
        WIDE_PX,
        320,
        title="Power over time per component",
        desc=f"{bins} equal intervals from {_hms(t0)} to {_hms(t1)} UTC. {desc}.",
        salt=salt,
        legend=[LegendItem(n.upper(), "line", COMPONENT_COLORS.get(n, "#444444")) for n in names],
    )
    lo, hi, yticks = value_range(v for n in names for v in powers[n])
    plot.set_x(t0, t1)
    plot.set_y(lo, hi)
    xticks, xlabel = time_ticks(t0, t1)
    plot.x_axis(xticks, xlabel)
    plot.y_axis(labelled(yticks), "power (W)")
    edges = [t0 + (t1 - t0) * i / bins for i in range(bins + 1)]
    top = _top_level(spans)
    for i, span in enumerate(top):
        end = span.ended_at if span.ended_at is not None else t1
        a, b = max(span.started_at, t0), min(end, t1)
        if not b > a:
            continue
        plot.band(a, b, color="#f0a000" if i % 2 == 0 else "#8888cc", opacity=0.10)
        plot.vline(a, color="#999999", width=0.6, dash="2 2")
        if len(top) <= MAX_SPAN_LABELS:
            room = plot.x(b) - plot.x(a) - 6  # a name stays inside its own band
            limit = min(24, int(room / (SMALL_PX * CHAR_PX)))
            if limit >= 3:
                plot.label(plot.x(a) + 3, plot.py1 + 12, span.path, color="#555555", limit=limit)
    for name in names:
        plot.steps(edges, powers[name], color=COMPONENT_COLORS.get(name, "#444444"))
    return plot.render()


# -- energy by component -----------------------------------------------------------------


def energy_by_component_chart(fp: Footprint, *, salt: str = "energy") -> str | None:
    """Energy per component in J, Wh or kWh (by size); modelled parts hatched; error bars
    from uncertainty.

    A component with any part of unknown uncertainty gets no error bar (not a zero one),
    and its label says the uncertainty is unknown.
    """
    energy: dict[str, float] = {}
    variance: dict[str, float | None] = {}
    methods: dict[str, set[str]] = {}
    for c in fp.components:
        if c.energy_j is None or not math.isfinite(c.energy_j):
            continue
        kwh = j_to_kwh(c.energy_j)
        energy[c.component] = energy.get(c.component, 0.0) + kwh
        known = variance.get(c.component, 0.0)
        rel = c.uncertainty_rel
        variance[c.component] = None if known is None or rel is None else known + (kwh * rel) ** 2
        methods.setdefault(c.component, set()).add(c.method)
    if not energy:
        return None
    names = sorted(energy, key=_component_rank)
    spread = {n: None if variance[n] is None else math.sqrt(variance[n] or 0.0) for n in names}
    # one axis unit for every bar, chosen by the largest bar (J, Wh, kWh), as the text does
    unit, factor = pick_unit(max(energy.values()), ENERGY_UNITS)
    energy = {n: v * factor for n, v in energy.items()}
    spread = {n: None if v is None else v * factor for n, v in spread.items()}
    labels = {}
    for name in names:
        measured = methods[name] == {"measured"}
        label = "measured" if measured else "/".join(sorted(methods[name]))
        if spread[name] is None:
            label += ", uncertainty unknown"
        labels[name] = f"{_g(energy[name])} {unit} ({label})"
    row_px = 34.0
    plot = Plot(
        NARROW_PX,
        12 + row_px * len(names) + 46,
        title="IT energy by component",
        desc="; ".join(f"{n.upper()}: {labels[n]}" for n in names) + ".",
        salt=salt,
        left=60,
    )
    # room on the right of each bar for its label
    width_px = plot.px1 - plot.px0
    need = 0.0
    for name in names:
        end = energy[name] + (spread[name] or 0.0)
        free = width_px - 10 - len(labels[name]) * SMALL_PX * CHAR_PX
        need = max(need, end * width_px / max(free, width_px * 0.2))
    lo, hi, ticks = nice_ticks(0.0, need if need > 0 else 1.0)
    plot.set_x(lo, hi)
    plot.x_axis(labelled(ticks), f"IT energy ({unit})")
    rows = []
    for i, name in enumerate(names):
        y = plot.py1 + row_px * (i + 0.5)
        rows.append((y, name.upper()))
        measured = methods[name] == {"measured"}
        color = COMPONENT_COLORS.get(name, "#444444")
        plot.hbar(
            0.0,
            energy[name],
            y,
            20,
            color=color,
            opacity=0.9 if measured else 0.45,
            hatch=not measured,
        )
        s = spread[name]
        if s is not None and s > 0:
            plot.error_bar(energy[name] - s, energy[name] + s, y)
        plot.label(plot.x(energy[name] + (s or 0.0)) + 7, y + 4, labels[name])
    plot.category_axis(rows)
    return plot.render()


# -- operational and embodied ------------------------------------------------------------


def carbon_split_chart(fp: Footprint, *, salt: str = "carbon") -> str | None:
    """Operational and embodied emissions in mg, g, kg or t CO2e (by size), with the total's
    interval."""
    op_g = (
        fp.operational_g
        if fp.operational_g is not None and math.isfinite(fp.operational_g)
        else None
    )
    emb_g = fp.embodied_g if fp.embodied_g is not None and math.isfinite(fp.embodied_g) else None
    if op_g is None and emb_g is None:
        return None
    from carbonledger.units import g_to_kg

    operational_kg = g_to_kg(op_g) if op_g is not None else 0.0
    embodied_kg = g_to_kg(emb_g) if emb_g is not None else 0.0
    top = operational_kg + embodied_kg
    interval = fp.total_interval_g
    if interval is not None and not all(math.isfinite(v) for v in interval):
        interval = None
    if interval is not None:
        top = max(top, g_to_kg(interval[1]))
    unit, factor = pick_unit(top, MASS_UNITS)
    operational, embodied = operational_kg * factor, embodied_kg * factor
    total = operational + embodied
    legend = [
        LegendItem(f"operational: {_g(operational)} {unit}", "box", "#d62728", 0.85)
        if op_g is not None
        else LegendItem("operational: unknown", "empty", "#d62728"),
        LegendItem(f"embodied: {_g(embodied)} {unit}", "box", "#8c564b", 0.85)
        if emb_g is not None
        else LegendItem("embodied: unknown", "empty", "#8c564b"),
    ]
    right = total
    lo = hi = 0.0
    if interval is not None:
        lo, hi = (g_to_kg(v) * factor for v in interval)
        legend.append(
            LegendItem(f"total: interval {_g(lo)}–{_g(hi)} {unit}", "errorbar", "#222222")
        )
        right = max(hi, total)
    plot = Plot(
        NARROW_PX,
        108,
        title="Operational and embodied emissions",
        desc=", ".join(item.label for item in legend) + ".",
        salt=salt,
        left=24,
        legend=legend,
    )
    x_lo, x_hi, ticks = nice_ticks(0.0, right * 1.15 if right > 0 else 1.0)
    plot.set_x(x_lo, x_hi)
    plot.x_axis(labelled(ticks), unit)
    y = plot.py1 + (plot.py0 - plot.py1) / 2
    # an unknown part gets no bar (never a 0-width one) and says so in the legend
    if op_g is not None:
        plot.hbar(0.0, operational, y, 26, color="#d62728", opacity=0.85, cls="bar operational")
    if emb_g is not None:
        plot.hbar(operational, total, y, 26, color="#8c564b", opacity=0.85, cls="bar embodied")
    if interval is not None:
        plot.error_bar(min(lo, total), max(hi, total), y, cap_px=6)
    plot.over.append(plot._line(plot.px0, plot.py0, plot.px0, plot.py1, "#1d1d1f", 1))
    return plot.render()


# -- grid intensity ----------------------------------------------------------------------


def intensity_chart(
    series: IntensitySeries,
    fp: Footprint,
    samples: Sequence[Sample] = (),
    *,
    salt: str = "intensity",
) -> str | None:
    """Grid intensity over time around the run, the run shaded and its power overlaid.

    None when the series does not reach the run's window (padded by its duration, at
    least three hours, on each side).
    """
    window = run_window(fp, samples)
    if window is None:
        return None
    t0, t1 = window
    pad = max(t1 - t0, 3 * 3600.0)
    lo, hi = max(t0 - pad, series.start), min(t1 + pad, series.end)
    if not hi > lo or series.end <= t0 or series.start >= t1:
        return None
    part = series.slice(lo, hi)
    edges = [*part.times, part.end]
    values: list[float | None] = list(part.values_g_per_kwh)
    used = fp.intensity.g_per_kwh
    if used is not None and not math.isfinite(used):
        used = None
    short = t1 - t0 < series.step_s and len(series.segments(t0, t1)) <= 1
    marker = series.value_at(t0) if short else None
    legend = [
        LegendItem(f"grid intensity ({part.zone})"[:60], "line", "#444444"),
        LegendItem("the run", "band", "#2ca02c", 0.25),
    ]
    if used is not None:
        legend.append(LegendItem(f"used: {used:.0f} g/kWh", "dash", "#d62728"))
    total: list[float | None] = []
    bins = 0
    if samples:
        bins = max(1, min(MAX_BINS, len(samples)))
        total = binned_power_total(samples, t0, t1, bins)
        legend.append(LegendItem("run power (W)", "line", "#2ca02c"))
    desc = _summary(f"grid intensity for {part.zone}", values, "g/kWh")
    desc += f"; the run from {_hms(t0)} to {_hms(t1)} UTC"
    if used is not None:
        desc += f"; the footprint used {used:.0f} g/kWh"
    if total:
        desc += "; " + _summary("run power", total, "W")
    plot = Plot(
        WIDE_PX,
        320,
        title="Grid carbon intensity over time with the run",
        desc=desc + ".",
        salt=salt,
        right=72 if total else 18,
        legend=legend,
    )
    extra = [v for v in (used, marker) if v is not None]
    y_lo, y_hi, yticks = value_range([*values, *extra])
    plot.set_x(edges[0], edges[-1])
    plot.set_y(y_lo, y_hi)
    xticks, xlabel = time_ticks(edges[0], edges[-1])
    plot.x_axis(xticks, xlabel)
    plot.y_axis(labelled(yticks), "gCO2e/kWh")
    plot.band(t0, t1, color="#2ca02c", opacity=0.12)
    plot.steps(edges, values, color="#444444")
    if used is not None:
        plot.hline(used, color="#d62728", dash="6 4")
    if total:
        p_lo, p_hi, pticks = value_range(total)
        plot.set_y2(p_lo, p_hi)
        run_edges = [t0 + (t1 - t0) * i / bins for i in range(bins + 1)]
        plot.steps(run_edges, total, color="#2ca02c", width=1.0, right=True, cls="line power")
        plot.y_axis(labelled(pticks), "run power (W)", right=True)
    if marker is not None:
        mid = (t0 + t1) / 2
        plot.vline(mid, color="#2ca02c", width=1.2)
        plot.point(mid, marker, color="#2ca02c", r=4)
        note = f"the run: {_hms(t0)}–{_hms(t1)} UTC ({t1 - t0:.0f} s), one step: {marker:.0f} g/kWh"
        x = plot.x(mid) + 8
        anchor = "start"
        if x + len(note) * SMALL_PX * CHAR_PX > plot.px1:
            x, anchor = plot.x(mid) - 8, "end"
        plot.label(
            x,
            max(plot.y(marker) - 10, plot.py1 + 14),
            note,
            color="#1b6e1b",
            anchor=anchor,
            box="#2ca02c",
        )
    return plot.render()


# -- Pareto front ------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    out = float(value)
    return out if math.isfinite(out) else None


def pareto_chart(
    rows: Sequence[Mapping[str, Any]],
    objectives: Sequence[tuple[str, str]],
    *,
    salt: str = "pareto",
) -> str | None:
    """Runs on the first two objectives; the front highlighted and its runs named.

    ``rows`` are :func:`carbonledger.report.pareto.leaderboard` rows; ``objectives`` are
    (name, sense) pairs. None with fewer than two objectives or no complete row.
    """
    if len(objectives) < 2:
        return None
    (nx, sx), (ny, sy) = objectives[0], objectives[1]
    points: list[tuple[float, float, Mapping[str, Any]]] = []
    for row in rows:
        values = row.get("objectives") or {}
        x, y = _number(values.get(nx)), _number(values.get(ny))
        if x is not None and y is not None:
            points.append((x, y, row))
    if not points:
        return None
    dominated = [(x, y) for x, y, row in points if not row.get("pareto")]
    front = sorted(
        ((x, y, row) for x, y, row in points if row.get("pareto")), key=lambda p: (p[0], p[1])
    )
    legend = []
    if dominated:
        legend.append(LegendItem("dominated", "point", "#9a9a9a"))
    if front:
        legend.append(LegendItem("Pareto front", "point", "#d62728"))
    xlabel = f"{nx} ({'higher' if sx == 'max' else 'lower'} is better)"
    ylabel = f"{ny} ({'higher' if sy == 'max' else 'lower'} is better)"
    plot = Plot(
        750,
        440,
        title="Pareto front of the first two objectives",
        desc=f"{len(points)} runs placed on {xlabel} and {ylabel}; {len(front)} on the Pareto "
        f"front, {len(dominated)} dominated.",
        salt=salt,
        left=76,
        legend=legend,
    )
    x_lo, x_hi, xticks = value_range((p[0] for p in points), zero=False)
    y_lo, y_hi, yticks = value_range((p[1] for p in points), zero=False)
    plot.set_x(x_lo, x_hi)
    plot.set_y(y_lo, y_hi)
    plot.x_axis(labelled(xticks), xlabel[:80])
    plot.y_axis(labelled(yticks), ylabel[:60])
    for x, y in dominated:
        plot.point(x, y, color="#9a9a9a", r=3, cls="point dominated")
    if front:
        stairs: list[tuple[float, float]] = [(front[0][0], front[0][1])]
        for (xa, ya, _), (xb, yb, _) in pairwise(front):
            # steps-pre when x is maximised (the next y holds up to its x), else steps-post
            stairs.append((xa, yb) if sx == "max" else (xb, ya))
            stairs.append((xb, yb))
        plot.polyline(stairs, color="#d62728")
        for x, y, _ in front:
            plot.point(x, y, color="#d62728", r=4, cls="point front")
        for x, y, row in front[:15]:
            name = str(row.get("name") or row.get("run_id") or "")
            plot.label(plot.x(x) + 5, plot.y(y) - 5, name, limit=24)
    return plot.render()
