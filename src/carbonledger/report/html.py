"""One self-contained HTML page per report: readable on screen, printable on paper.

No external resource of any kind: CSS is inline, charts are inline SVG written by
:mod:`carbonledger.report.charts` (no plotting library: about a millisecond a chart), fonts
are the reader's own. Every string that came from a user or a host (names, tags, metrics,
span paths, host facts, settings, warnings) goes through :func:`html.escape`.

:func:`render` is the ``html`` report format; :func:`render_leaderboard` draws a
leaderboard (rows of :func:`carbonledger.report.pareto.leaderboard`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from carbonledger.lifecycle.footprint import Footprint
from carbonledger.records import RunRecord, SpanRecord
from carbonledger.report import charts
from carbonledger.report import htmlkit as kit
from carbonledger.report.base import ReportInput
from carbonledger.report.htmlkit import CSS
from carbonledger.report.statement import fmt_number, hardware_used, intensity_phrase
from carbonledger.timeutil import parse_instant_or_none

__all__ = ["CSS", "render", "render_leaderboard"]

log = logging.getLogger(__name__)

# -- one run -----------------------------------------------------------------------------


def _card(label: str, value: str, detail: str = "") -> str:
    return (
        f'<div class="card"><div class="label">{label}</div><div class="value">{value}</div>'
        f'<div class="detail">{detail}</div></div>'
    )


def _interval_note(text: str) -> str:
    """``interval …<br>`` when there is an interval; nothing when it is unknown."""
    return f"interval {text}<br>" if text else ""


def _summary(fp: Footprint) -> str:
    energy_detail = _interval_note(kit.energy_interval(fp.energy_interval_j))
    energy_detail += f"facility (× PUE): {kit.energy(fp.facility_energy_j)}"
    carbon_detail = _interval_note(kit.mass_interval(fp.total_interval_g))
    carbon_detail += (
        f"operational {kit.mass(fp.operational_g)} + embodied {kit.mass(fp.embodied_g)}"
    )
    i = fp.intensity
    intensity = "—" if i.g_per_kwh is None else f"{fmt_number(i.g_per_kwh)} g/kWh"
    intensity_detail = f"{kit.badge(i.method)} {kit.e(intensity_phrase(i))}"
    cards = [
        _card("IT energy", kit.energy(fp.energy_j), energy_detail),
        _card("Carbon (total)", kit.mass(fp.total_g), carbon_detail),
        _card("Grid intensity", kit.e(intensity), intensity_detail),
        _card("PUE", kit.e(fmt_number(fp.pue)), f"source: {kit.e(fp.pue_source)}"),
    ]
    fu = fp.functional_unit
    if fu is not None:
        per = kit.mass(fu.g_per_unit)
        cards.append(
            _card(
                f"SCI per {kit.e(fu.name)}",
                per,
                _interval_note(kit.mass_interval(fu.interval_g_per_unit))
                + f"{kit.e(fmt_number(fu.count))} {kit.e(fu.name)}",
            )
        )
    return f'<div class="cards">{"".join(cards)}</div>'


def _header(fp: Footprint, run: RunRecord | None, devices_text: str) -> str:
    tags = "".join(f'<span class="tag">{kit.e(k)}={kit.e(v)}</span>' for k, v in fp.tags.items())
    return (
        f"<h2>{kit.e(fp.name)}</h2>"
        f'<p class="meta">run <code>{kit.e(fp.run_id)}</code>'
        f" · {kit.e(fp.phase)} · {kit.e(fp.status)}"
        f" · {kit.when(fp.started_at)} → {kit.when(fp.ended_at)}"
        f" ({kit.e(kit.duration(fp.duration_s))})"
        f" · scope {kit.e(fp.scope)} · hardware {kit.e(devices_text)}</p>"
        + (f"<p>{tags}</p>" if tags else "")
    )


def _notes(fp: Footprint) -> str:
    if not fp.warnings:
        return ""
    items = "".join(f"<li>{kit.e(w)}</li>" for w in fp.warnings)
    return f'<div class="notes"><strong>Notes</strong><ul>{items}</ul></div>'


def _methods(fp: Footprint) -> str:
    rows = []
    for c in fp.components:
        rows.append(
            [
                kit.e(c.component.upper()),
                f"{kit.e(c.name)}<br><span class='muted mono'>{kit.e(c.device)}</span>",
                kit.energy(c.energy_j),
                "—" if c.mean_power_w is None else kit.e(f"{c.mean_power_w:.1f} W"),
                kit.badge(c.method),
                f"<span class='mono'>{kit.e(c.source)}</span>",
                kit.rel(c.uncertainty_rel),
            ]
        )
    i = fp.intensity
    rows.append(
        [
            "grid intensity",
            kit.e(f"{i.zone or 'no zone'} · {i.signal} · {i.basis}")
            + ("<br>time-aligned" if i.time_aligned else "<br>one average for the run"),
            kit.e("—" if i.g_per_kwh is None else f"{fmt_number(i.g_per_kwh)} g/kWh"),
            "",
            kit.badge(i.method),
            f"<span class='mono'>{kit.e(i.source)}</span>",
            kit.rel(i.uncertainty_rel),
        ]
    )
    rows.append(
        ["PUE", "facility overhead", kit.e(fmt_number(fp.pue)), "", "", kit.e(fp.pue_source), "—"]
    )
    for item in fp.embodied:
        rows.append(
            [
                "embodied",
                kit.e(f"{fmt_number(item.count)} × {item.item}"),
                kit.mass(item.g),
                "",
                "",
                f"<span class='mono'>{kit.e(item.source)}</span>",
                kit.rel(item.uncertainty_rel),
            ]
        )
    head = ["what", "device / detail", "value", "mean power", "method", "source", "uncertainty"]
    return "<h3>Methods and sources</h3>" + kit.table(head, rows, numeric=(2, 3, 6))


def _chart_figure(
    make: Callable[[], str | None], caption: str, missing: str, *, wide: bool = False
) -> str:
    try:
        svg = make()
    except Exception as exc:  # a broken chart must not take the report down; say so
        log.warning("chart failed: %s", exc)
        return f'<p class="charts-missing">Chart could not be drawn: {kit.e(exc)}</p>'
    if svg is None:
        return f'<p class="muted">{missing}</p>' if missing else ""
    cls = ' class="wide"' if wide else ""
    return f"<figure{cls}>{svg}<figcaption>{caption}</figcaption></figure>"


def _span_records(fp: Footprint, data: ReportInput) -> list[SpanRecord]:
    records = list(data.spans.get(fp.run_id or "", ()))
    if records:
        return records
    out = []
    for span in fp.spans:
        start, end = parse_instant_or_none(span.started_at), parse_instant_or_none(span.ended_at)
        if start is not None:
            out.append(SpanRecord(span.path, start, end, {}))
    return out


def _charts(fp: Footprint, data: ReportInput, index: int) -> str:
    rid = fp.run_id or ""
    samples = list(data.samples.get(rid, ()))
    devices = list(data.devices.get(rid, ()))
    spans = _span_records(fp, data)
    salt = f"run{index}-"
    parts = ["<h3>Charts</h3>"]
    parts.append(
        _chart_figure(
            lambda: charts.power_chart(fp, samples, devices, spans, salt=salt + "power"),
            "Power over time per component (sample energy ÷ sample duration, the run's share); "
            "shaded bands are the top-level spans. Gaps are intervals without a reading.",
            "No samples were recorded, so there is no power chart.",
            wide=True,
        )
    )
    parts.append(
        _chart_figure(
            lambda: charts.energy_by_component_chart(fp, salt=salt + "energy"),
            "IT energy by component. Hatched bars are modelled, not measured; error bars "
            "show the stated uncertainty.",
            "No component has an energy value.",
        )
    )
    if data.series is not None:
        series = data.series
        parts.append(
            _chart_figure(
                lambda: charts.intensity_chart(series, fp, samples, salt=salt + "intensity"),
                f"Grid carbon intensity for {kit.e(series.zone)} ({kit.e(series.source)}) around "
                "the run (green band), the run's power on the right axis, and the intensity "
                "the footprint used (dashed).",
                "The intensity series does not cover this run.",
                wide=True,
            )
        )
    parts.append(
        _chart_figure(
            lambda: charts.carbon_split_chart(fp, salt=salt + "carbon"),
            "Operational emissions (energy × PUE × intensity) and the run's share of the "
            "hardware's embodied emissions, with the total's uncertainty interval.",
            "No emissions could be computed.",
        )
    )
    return "".join(parts)


def _spans(fp: Footprint) -> str:
    if not fp.spans:
        return ""
    rows = []
    for span in fp.spans:
        depth = span.path.count("/")
        start, end = parse_instant_or_none(span.started_at), parse_instant_or_none(span.ended_at)
        duration = None if start is None or end is None else end - start
        rows.append(
            [
                f"<span style='padding-left:{depth * 16}px'>{kit.e(span.path)}</span>",
                kit.when(span.started_at),
                kit.e(kit.duration(duration)),
                kit.energy(span.energy_j),
                kit.energy_interval(span.energy_interval_j) or "—",
                kit.mass(span.total_g),
                kit.mass_interval(span.total_interval_g) or "—",
            ]
        )
    head = ["span", "started", "duration", "IT energy", "interval", "carbon", "interval"]
    return "<h3>Spans</h3>" + kit.table(head, rows, numeric=(2, 3, 4, 5, 6))


def _metrics(fp: Footprint) -> str:
    if not fp.metrics:
        return ""
    rows = [[kit.e(k), kit.value(v)] for k, v in fp.metrics.items()]
    return "<h3>Metrics</h3>" + kit.table(["metric", "value"], rows, numeric=(1,))


def _embodied(fp: Footprint) -> str:
    if not fp.embodied:
        return ""
    rows = [
        [
            kit.e(item.item),
            kit.e(fmt_number(item.count)),
            kit.mass(item.total_g),
            kit.e(f"{fmt_number(item.lifetime_years)} y × {item.lifetime_use:.0%} use"),
            kit.e(f"{item.share:.0%}"),
            kit.mass(item.g),
            f"<span class='mono'>{kit.e(item.source)}</span>",
        ]
        for item in fp.embodied
    ]
    head = ["item", "count", "whole-life embodied", "lifetime", "share", "this run", "source"]
    return (
        "<h3>Embodied emissions</h3><p class='muted'>SCI: M = TE × time reserved ÷ (lifetime × "
        "use) × resources reserved ÷ total resources.</p>"
        + kit.table(head, rows, numeric=(1, 2, 4, 5))
    )


def _dl(mapping: Mapping[str, Any]) -> str:
    items = []
    for key, value in mapping.items():
        inner = _dl(value) if isinstance(value, Mapping) and value else kit.value(value)
        items.append(f"<dt>{kit.e(key)}</dt><dd>{inner}</dd>")
    return f'<dl class="env">{"".join(items)}</dl>'


def _environment(fp: Footprint) -> str:
    if not fp.host:
        return "<h3>Environment</h3><p class='muted'>No host facts were recorded.</p>"
    return "<h3>Environment</h3>" + _dl(fp.host)


def _env_audit(attachments: Mapping[str, Any]) -> str:
    raw = attachments.get("env_audit")
    if raw is None:
        return ""
    from carbonledger.envaudit.model import EnvAudit
    from carbonledger.envaudit.render import html_section
    from carbonledger.errors import CarbonLedgerError

    try:
        return html_section(EnvAudit.from_dict(raw))
    except CarbonLedgerError as exc:
        return f"<h3>Environment audit</h3><p class='muted'>Unreadable: {kit.e(exc)}</p>"


def _command_text(settings: Mapping[str, Any]) -> str | None:
    for key in ("command", "argv", "cmd"):
        value = settings.get(key)
        if isinstance(value, (list, tuple)):
            import shlex

            return shlex.join(str(v) for v in value)
        if isinstance(value, str) and value:
            return value
    return None


def _reproduce(fp: Footprint, run: RunRecord | None) -> str:
    parts = ["<h3>How to reproduce</h3>"]
    settings = dict(run.settings) if run is not None else {}
    command = _command_text(settings)
    if command:
        parts.append(f"<p>The tracked command:</p><pre>{kit.e(command)}</pre>")
    if run is not None:
        facts = {
            "zone": run.zone,
            "pue": run.pue,
            "sampling interval (s)": run.interval_s,
            "scope": str(run.scope),
            "exit code": run.exit_code,
        }
        parts.append(
            _dl({**facts, **{k: v for k, v in settings.items() if k not in ("command", "argv")}})
        )
    rid = fp.run_id or "RUN"
    parts.append(
        "<p>This report (re-priced from the ledger's raw samples):</p>"
        f"<pre>carbonledger report {kit.e(rid)} --format html -o report.html</pre>"
    )
    return "".join(parts)


def _run_section(
    fp: Footprint, data: ReportInput, index: int, runs: Mapping[str, RunRecord]
) -> str:
    rid = fp.run_id or ""
    run = runs.get(rid)
    devices = data.devices.get(rid, ())
    return (
        f'<section id="run-{index}">'
        + _header(fp, run, hardware_used(fp, devices))
        + "<h3>Summary</h3>"
        + _summary(fp)
        + _notes(fp)
        + _charts(fp, data, index)
        + _methods(fp)
        + _spans(fp)
        + _metrics(fp)
        + _embodied(fp)
        + _environment(fp)
        + _env_audit(data.attachments.get(rid, {}))
        + _reproduce(fp, run)
        + "</section>"
    )


def _overview(footprints: Sequence[Footprint]) -> str:
    rows = [
        [
            f'<a href="#run-{i}">{kit.e(fp.name)}</a>',
            f"<code>{kit.e((fp.run_id or '')[:12])}</code>",
            kit.e(fp.phase),
            kit.e(kit.duration(fp.duration_s)),
            kit.energy(fp.energy_j),
            kit.mass(fp.total_g),
            kit.mass_interval(fp.total_interval_g) or "—",
            kit.e(fp.intensity.zone or "—"),
        ]
        for i, fp in enumerate(footprints)
    ]
    head = ["run", "id", "phase", "duration", "IT energy", "carbon", "carbon interval", "zone"]
    return "<h2>Overview</h2>" + kit.table(head, rows, numeric=(3, 4, 5, 6))


def render(data: ReportInput) -> str:
    """The HTML report of every footprint in ``data``: one section per run."""
    footprints = list(data.footprints)
    if len(footprints) == 1:
        title = f"carbonledger report: {footprints[0].name}"
    else:
        title = f"carbonledger report: {len(footprints)} runs"
    heading = "Energy and carbon report" if len(footprints) == 1 else title
    body = [f"<h1>{kit.e(heading)}</h1>"]
    if len(footprints) > 1:
        body.append(_overview(footprints))
    runs = {r.run_id: r for r in reversed(list(data.runs))}  # the first of a run id wins
    body += [_run_section(fp, data, i, runs) for i, fp in enumerate(footprints)]
    if not footprints:
        body.append("<p>No runs.</p>")
    return kit.page(title, "\n".join(body))


# -- leaderboard -------------------------------------------------------------------------


def _objective_cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and not math.isfinite(value):
        return "—"
    return kit.e(fmt_number(float(value), 4)) if isinstance(value, (int, float)) else kit.e(value)


def render_leaderboard(
    rows: Sequence[Mapping[str, Any]],
    objectives: Sequence[tuple[str, str]],
    *,
    title: str = "carbonledger leaderboard",
    skipped: Sequence[Mapping[str, Any]] = (),
) -> str:
    """A leaderboard page: the Pareto front of the first two objectives and the table."""
    body = [f"<h1>{kit.e(title)}</h1>"]
    listed = ", ".join(
        f"<code>{kit.e(name)}</code> ({'higher' if sense == 'max' else 'lower'} is better)"
        for name, sense in objectives
    )
    body.append(
        f"<p>Objectives: {listed}. A run is on the <strong>Pareto front</strong> when no other "
        "run is at least as good on every objective and better on one; runs missing a value "
        "are not placed.</p>"
    )
    if len(objectives) >= 2:
        body.append(
            _chart_figure(
                lambda: charts.pareto_chart(rows, objectives),
                f"Runs on {kit.e(objectives[0][0])} and {kit.e(objectives[1][0])}; the Pareto "
                "front in red (computed on all objectives).",
                "No run has both of the first two objectives.",
                wide=True,
            )
        )
    head = ["#", "run", "id", *(kit.e(name) for name, _ in objectives), "Pareto", "dominated by"]
    table_rows = []
    for i, row in enumerate(rows, 1):
        values = row.get("objectives", {})
        pareto = row.get("pareto")
        mark = "yes" if pareto else ("—" if pareto is None else "no")
        if pareto is None and row.get("missing"):
            mark = "— (missing " + ", ".join(str(m) for m in row["missing"]) + ")"
        table_rows.append(
            [
                str(i),
                kit.e(row.get("name")),
                f"<code>{kit.e((row.get('run_id') or '')[:12])}</code>",
                *(_objective_cell(values.get(name)) for name, _ in objectives),
                kit.e(mark),
                " ".join(f"<code>{kit.e(str(r)[:12])}</code>" for r in row.get("dominated_by", ())),
            ]
        )
    numeric = tuple(range(3, 3 + len(objectives)))
    body.append(kit.table(head, table_rows, numeric=numeric))
    if skipped:
        items = "".join(
            f"<li><code>{kit.e(s.get('run_id'))}</code>: {kit.e(s.get('error'))}</li>"
            for s in skipped
        )
        body.append(f'<div class="notes"><strong>Runs left out</strong><ul>{items}</ul></div>')
    return kit.page(title, "\n".join(body))
