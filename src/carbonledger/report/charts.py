"""Charts for the HTML reports, drawn with matplotlib as inline SVG.

matplotlib is the optional ``[report]`` extra and is imported lazily, through its
backend-free :class:`~matplotlib.figure.Figure` API, so neither pyplot's global state nor
the host program's backend is touched. :func:`available` tells whether charts can be drawn;
every chart function returns SVG text, or None when there is nothing to draw.

Text that came from users (span paths, run names) reaches the SVG through matplotlib,
which escapes it for XML; ``$`` is escaped here so that it is never read as mathtext.
The maths of turning samples into power over time is in :func:`binned_power`, pure.
"""

from __future__ import annotations

import importlib.util
import io
import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from carbonledger.errors import ConfigError
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
from carbonledger.units import j_to_kwh

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "COMPONENT_COLORS",
    "available",
    "binned_power",
    "carbon_split_chart",
    "component_power",
    "energy_by_component_chart",
    "intensity_chart",
    "mpl_text",
    "pareto_chart",
    "power_chart",
]

COMPONENT_COLORS = {"cpu": "#1f77b4", "gpu": "#2ca02c", "ram": "#9467bd", "other": "#7f7f7f"}
COMPONENT_ORDER = ("gpu", "cpu", "ram", "other")
MAX_BINS = 400
MAX_SPAN_LABELS = 12
INSTALL_HINT = "charts need matplotlib: pip install 'carbonledger[report]'"


def available() -> bool:
    """Whether matplotlib can be imported (without importing it)."""
    return importlib.util.find_spec("matplotlib") is not None


def mpl_text(text: str, limit: int = 40) -> str:
    """User text made safe for matplotlib: no mathtext, no hidden ``_`` legend labels."""
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    text = text.replace("$", r"\$")
    return " " + text if text.startswith("_") else text


# -- pure maths ------------------------------------------------------------------------


# -- matplotlib plumbing ---------------------------------------------------------------


def _figure(width_in: float = 9.0, height_in: float = 3.4) -> Figure:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None
    return Figure(figsize=(width_in, height_in), layout="constrained")


_XML_HEAD = re.compile(r"^\s*<\?xml[^>]*\?>\s*(<!DOCTYPE[^>]*>\s*)?", re.S)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)


def _svg(fig: Figure, label: str, salt: str) -> str:
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": salt}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = _METADATA.sub("", _XML_HEAD.sub("", buffer.getvalue()))
    from html import escape

    return text.replace("<svg ", f'<svg role="img" aria-label="{escape(label)}" ', 1)


def _dates(times: Sequence[float]) -> list[float]:
    from matplotlib.dates import date2num

    out = []
    for t in times:
        moment = datetime.fromtimestamp(t, tz=timezone.utc)
        out.append(float(date2num(moment)))  # type: ignore[no-untyped-call]
    return out


def _time_axis(ax: Axes) -> None:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    locator = AutoDateLocator(tz=timezone.utc)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    formatter = ConciseDateFormatter(locator, tz=timezone.utc)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_formatter(formatter)
    ax.set_xlabel("time (UTC)")


def _style(ax: Axes) -> None:
    ax.grid(True, alpha=0.3, linewidth=0.6)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _nan(values: Sequence[float | None]) -> list[float]:
    return [math.nan if v is None else v for v in values]


def _top_level(spans: Sequence[SpanRecord]) -> list[SpanRecord]:
    return [s for s in spans if "/" not in s.path]


# -- charts ----------------------------------------------------------------------------


def power_chart(
    fp: Footprint,
    samples: Sequence[Sample],
    devices: Sequence[DeviceInfo],
    spans: Sequence[SpanRecord] = (),
    *,
    salt: str = "power",
) -> str | None:
    """Power over time per component (stacked lines), top-level spans shaded and named."""
    window = run_window(fp, samples)
    if not samples or window is None:
        return None
    t0, t1 = window
    per_device = max(1, len(samples) // max(1, len({s.device_id for s in samples})))
    bins = max(1, min(MAX_BINS, per_device))
    powers = component_power(samples, devices, t0, t1, bins)
    edges = _dates([t0 + (t1 - t0) * i / bins for i in range(bins + 1)])
    fig = _figure()
    ax = fig.add_subplot()
    for component in sorted(powers, key=_component_rank):
        ax.stairs(
            _nan(powers[component]),
            edges,
            baseline=None,
            label=component.upper(),
            color=COMPONENT_COLORS.get(component, "#444444"),
            linewidth=1.4,
        )
    top = _top_level(spans)
    for i, span in enumerate(top):
        end = span.ended_at if span.ended_at is not None else t1
        a, b = _dates([max(span.started_at, t0), min(end, t1)])
        ax.axvspan(a, b, color="#f0a000" if i % 2 == 0 else "#8888cc", alpha=0.10, linewidth=0)
        ax.axvline(a, color="#999999", linewidth=0.6, linestyle=":")
        if len(top) <= MAX_SPAN_LABELS:
            ax.text(
                a,
                0.99,
                " " + mpl_text(span.path, 24),
                transform=ax.get_xaxis_transform(),
                va="top",
                ha="left",
                fontsize=8,
                color="#555555",
                clip_on=True,
            )
    ax.set_ylabel("power (W)")
    ax.set_ylim(bottom=0)
    ax.margins(x=0)
    _time_axis(ax)
    _style(ax)
    fig.legend(loc="outside lower center", fontsize=8, frameon=False, ncols=len(powers))
    return _svg(fig, "power over time per component", salt)


def _component_rank(component: str) -> tuple[int, str]:
    order = COMPONENT_ORDER.index(component) if component in COMPONENT_ORDER else 99
    return (order, component)


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
        if c.energy_j is None:
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
    fig = _figure(6.0, 0.6 + 0.55 * len(names))
    ax = fig.add_subplot()
    for y, name in enumerate(names):
        measured = methods[name] == {"measured"}
        ax.barh(
            y,
            energy[name],
            xerr=spread[name],  # None: no error bar
            color=COMPONENT_COLORS.get(name, "#444444"),
            alpha=0.9 if measured else 0.45,
            hatch=None if measured else "//",
            edgecolor="#333333",
            linewidth=0.6,
            error_kw={"elinewidth": 1, "capsize": 3, "ecolor": "#333333"},
        )
        label = "measured" if measured else "/".join(sorted(methods[name]))
        if spread[name] is None:
            label += ", uncertainty unknown"
        ax.annotate(
            f"{energy[name]:.3g} {unit} ({label})",
            (energy[name] + (spread[name] or 0.0), y),
            xytext=(7, 0),
            textcoords="offset points",
            va="center",
            ha="left",
            fontsize=8,
        )
    ax.set_yticks(range(len(names)), [n.upper() for n in names])
    ax.invert_yaxis()
    ax.set_xlabel(f"IT energy ({unit})")
    ax.set_xlim(0, max(energy[n] + (spread[n] or 0.0) for n in names) * 1.7)
    _style(ax)
    return _svg(fig, "energy by component", salt)


def carbon_split_chart(fp: Footprint, *, salt: str = "carbon") -> str | None:
    """Operational and embodied emissions in mg, g, kg or t CO2e (by size), with the total's
    interval."""
    if fp.operational_g is None and fp.embodied_g is None:
        return None
    from carbonledger.units import g_to_kg

    operational_kg = g_to_kg(fp.operational_g) if fp.operational_g is not None else 0.0
    embodied_kg = g_to_kg(fp.embodied_g) if fp.embodied_g is not None else 0.0
    top = operational_kg + embodied_kg
    if fp.total_interval_g is not None:
        top = max(top, g_to_kg(fp.total_interval_g[1]))
    unit, factor = pick_unit(top, MASS_UNITS)
    operational, embodied = operational_kg * factor, embodied_kg * factor
    fig = _figure(6.0, 1.9)
    ax = fig.add_subplot()
    # an unknown part gets no bar (never a 0-width one) and says so in the legend
    op_label = "operational" if fp.operational_g is not None else "operational: unknown"
    emb_label = "embodied" if fp.embodied_g is not None else "embodied: unknown"
    ax.barh(
        0,
        operational,
        color="#d62728",
        alpha=0.85 if fp.operational_g is not None else 0.0,
        label=op_label,
    )
    ax.barh(
        0,
        embodied,
        left=operational,
        color="#8c564b",
        alpha=0.85 if fp.embodied_g is not None else 0.0,
        label=emb_label,
    )
    if fp.total_interval_g is not None:
        lo, hi = (g_to_kg(v) * factor for v in fp.total_interval_g)
        total = operational + embodied
        ax.errorbar(
            total,
            0,
            xerr=[[max(total - lo, 0.0)], [max(hi - total, 0.0)]],
            fmt="none",
            ecolor="#222222",
            capsize=4,
            elinewidth=1,
            label="total: uncertainty interval",
        )
        right = max(hi, total)
    else:
        right = operational + embodied
    ax.set_yticks([])
    ax.set_xlabel(unit)
    ax.set_xlim(0, right * 1.15 if right > 0 else 1)
    fig.legend(loc="outside lower center", ncols=3, fontsize=8, frameon=False)
    _style(ax)
    return _svg(fig, "operational and embodied emissions", salt)


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
    edges = _dates([*part.times, part.end])
    fig = _figure()
    ax = fig.add_subplot()
    ax.stairs(
        part.values_g_per_kwh,
        edges,
        baseline=None,
        color="#444444",
        linewidth=1.4,
        label=f"grid intensity ({mpl_text(part.zone, 20)})",
    )
    a, b = _dates([t0, t1])
    ax.axvspan(a, b, color="#2ca02c", alpha=0.12, linewidth=0, label="the run")
    if t1 - t0 < series.step_s and len(series.segments(t0, t1)) <= 1:
        _mark_short_run(ax, series, t0, t1)
    if fp.intensity.g_per_kwh is not None:
        ax.axhline(
            fp.intensity.g_per_kwh,
            color="#d62728",
            linestyle="--",
            linewidth=1,
            label=f"used: {fp.intensity.g_per_kwh:.0f} g/kWh",
        )
    ax.set_ylabel("gCO2e/kWh")
    ax.set_ylim(bottom=0)
    _time_axis(ax)
    _style(ax)
    handles, labels = ax.get_legend_handles_labels()
    if samples:
        bins = max(1, min(MAX_BINS, len(samples)))
        total = binned_power_total(samples, t0, t1, bins)
        twin = ax.twinx()
        run_edges = _dates([t0 + (t1 - t0) * i / bins for i in range(bins + 1)])
        twin.stairs(
            _nan(total),
            run_edges,
            baseline=None,
            color="#2ca02c",
            linewidth=1.0,
            label="run power (W)",
        )
        twin.set_ylabel("run power (W)")
        twin.set_ylim(bottom=0)
        twin.spines["top"].set_visible(False)
        h2, l2 = twin.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    ax.set_xlim(edges[0], edges[-1])
    fig.legend(handles, labels, loc="outside lower center", ncols=4, fontsize=8, frameon=False)
    return _svg(fig, "grid carbon intensity over time with the run", salt)


def _mark_short_run(ax: Axes, series: IntensitySeries, t0: float, t1: float) -> None:
    """A run inside one step of the series would be an invisible sliver: mark it with a
    labelled point and say its time window and the one intensity value it saw."""
    value = series.value_at(t0)
    if value is None:
        return
    (mid,) = _dates([(t0 + t1) / 2])
    ax.axvline(mid, color="#2ca02c", linewidth=1.2)
    ax.plot([mid], [value], marker="o", color="#2ca02c", markersize=6)

    def hms(t: float) -> str:
        return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%H:%M:%S")

    ax.annotate(
        f"the run: {hms(t0)}–{hms(t1)} UTC ({t1 - t0:.0f} s), one step: {value:.0f} g/kWh",
        (mid, value),
        xytext=(8, 10),
        textcoords="offset points",
        fontsize=8,
        color="#1b6e1b",
        bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": "#2ca02c", "lw": 0.6},
    )


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
    points = [
        (row["objectives"].get(nx), row["objectives"].get(ny), row)
        for row in rows
        if row["objectives"].get(nx) is not None and row["objectives"].get(ny) is not None
    ]
    if not points:
        return None
    fig = _figure(7.5, 4.5)
    ax = fig.add_subplot()
    dominated = [(x, y) for x, y, row in points if not row.get("pareto")]
    front = sorted((x, y, row) for x, y, row in points if row.get("pareto"))
    if dominated:
        ax.scatter(
            [p[0] for p in dominated],
            [p[1] for p in dominated],
            color="#9a9a9a",
            s=24,
            label="dominated",
        )
    if front:
        ax.plot(
            [p[0] for p in front],
            [p[1] for p in front],
            color="#d62728",
            linewidth=1,
            alpha=0.6,
            drawstyle="steps-pre" if sx == "max" else "steps-post",
        )
        ax.scatter(
            [p[0] for p in front],
            [p[1] for p in front],
            color="#d62728",
            s=40,
            zorder=3,
            label="Pareto front",
        )
        for x, y, row in front[:15]:
            ax.annotate(
                mpl_text(str(row.get("name") or row.get("run_id") or ""), 24),
                (x, y),
                textcoords="offset points",
                xytext=(5, 4),
                fontsize=8,
            )
    ax.set_xlabel(f"{mpl_text(nx)} ({'higher' if sx == 'max' else 'lower'} is better)")
    ax.set_ylabel(f"{mpl_text(ny)} ({'higher' if sy == 'max' else 'lower'} is better)")
    _style(ax)
    ax.legend(fontsize=8, frameon=False)
    return _svg(fig, "Pareto front of the first two objectives", salt)
