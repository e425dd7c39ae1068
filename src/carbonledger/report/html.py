"""One self-contained HTML page per report: readable on screen, printable on paper.

No external resource of any kind: CSS is inline, charts are inline SVG drawn by
:mod:`carbonledger.report.charts` (a note replaces them when matplotlib is missing), fonts
are the reader's own. Every string that came from a user or a host (names, tags, metrics,
span paths, host facts, settings, warnings) goes through :func:`html.escape`.

:func:`render` is the ``html`` report format; :func:`render_leaderboard` draws a
leaderboard (rows of :func:`carbonledger.report.pareto.leaderboard`).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from html import escape
from typing import Any

from carbonledger import __version__
from carbonledger.lifecycle.footprint import Footprint
from carbonledger.records import RunRecord, SpanRecord
from carbonledger.report import charts
from carbonledger.report.base import ReportInput
from carbonledger.report.statement import fmt_number, hardware_used, intensity_phrase
from carbonledger.report.text import format_energy_kwh, format_mass_kg
from carbonledger.units import S_PER_HOUR, g_to_kg, j_to_kwh

__all__ = ["CSS", "render", "render_leaderboard"]

log = logging.getLogger(__name__)

CSS = """
:root { --ink: #1d1d1f; --muted: #5f6368; --line: #d9dce1; --soft: #f5f6f8;
  --measured: #1e7b34; --modeled: #a85f00; --default: #5f6368; --unavailable: #b3261e; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.45;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 1.6rem; margin: 0 0 4px; }
h2 { font-size: 1.3rem; margin: 32px 0 8px; padding-top: 8px; border-top: 2px solid var(--ink); }
h3 { font-size: 1.05rem; margin: 24px 0 8px; }
p.meta, .muted { color: var(--muted); }
p.meta { margin: 0 0 12px; }
code, pre, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
  font-size: 0.86em; }
pre { background: var(--soft); padding: 10px 12px; border-radius: 6px; overflow-x: auto;
  white-space: pre-wrap; word-break: break-all; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr));
  gap: 12px; margin: 12px 0; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
.card .label { font-size: 0.78rem; text-transform: uppercase; letter-spacing: 0.04em;
  color: var(--muted); }
.card .value { font-size: 1.45rem; font-weight: 600; margin: 2px 0; }
.card .detail { font-size: 0.82rem; color: var(--muted); }
table { border-collapse: collapse; width: 100%; margin: 8px 0 16px; font-size: 0.88rem; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.badge { display: inline-block; padding: 0 7px; border-radius: 9px; font-size: 0.78rem;
  color: #fff; background: var(--default); white-space: nowrap; }
.badge.measured { background: var(--measured); }
.badge.modeled { background: var(--modeled); }
.badge.unavailable { background: var(--unavailable); }
.tag { display: inline-block; padding: 0 6px; margin: 0 4px 2px 0; border: 1px solid var(--line);
  border-radius: 4px; font-size: 0.8rem; }
.notes { border-left: 4px solid var(--modeled); background: #fff8ec; padding: 8px 12px;
  margin: 12px 0; }
.notes ul { margin: 4px 0; padding-left: 20px; }
figure { margin: 12px 0 20px; break-inside: avoid; page-break-inside: avoid; }
figure svg { max-width: 100%; height: auto; display: block; }
figure.wide svg { width: 100%; }
figcaption { font-size: 0.82rem; color: var(--muted); margin-top: 4px; }
.charts-missing { background: var(--soft); padding: 10px 12px; border-radius: 6px; }
dl.env { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 8px 0; }
dl.env dt { color: var(--muted); }
dl.env dd { margin: 0; word-break: break-word; }
footer { margin-top: 40px; font-size: 0.8rem; color: var(--muted); }
@page { size: A4; margin: 14mm; }
@media print {
  body { font-size: 11pt; }
  main { max-width: none; padding: 0; }
  h2 { break-before: auto; break-after: avoid; }
  h3 { break-after: avoid; }
  tr, .card, dl.env { break-inside: avoid; }
  thead { display: table-header-group; }
  .badge, th, .notes { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  pre { white-space: pre-wrap; }
}
"""


def _e(value: Any) -> str:
    """Escaped text of anything; None as an em dash."""
    return "—" if value is None else escape(str(value), quote=True)


def _badge(method: str) -> str:
    return f'<span class="badge {_e(method)}">{_e(method)}</span>'


def _when(iso: str | None) -> str:
    if not iso:
        return "—"
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return _e(iso)
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return _e(moment.strftime("%Y-%m-%d %H:%M:%S UTC"))


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.1f} s"
    hours, rest = divmod(seconds, S_PER_HOUR)
    minutes = rest / (S_PER_HOUR / 60)
    return f"{int(hours)} h {minutes:.0f} min" if hours else f"{minutes:.1f} min"


def _energy(energy_j: float | None) -> str:
    return _e(format_energy_kwh(None if energy_j is None else j_to_kwh(energy_j)))


def _mass(mass_g: float | None) -> str:
    return _e(format_mass_kg(None if mass_g is None else g_to_kg(mass_g)))


def _rel(rel: float | None) -> str:
    return "—" if rel is None else f"±{rel:.0%}"


def _value(value: Any) -> str:
    if isinstance(value, float):
        return _e(fmt_number(value, 4))
    if isinstance(value, (dict, list, tuple)):
        return f"<code>{_e(json.dumps(value, default=str, ensure_ascii=False))}</code>"
    return _e(value)


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[int] = ()) -> str:
    """A table from already-escaped cells; column indexes in ``numeric`` align right."""
    cls = [' class="num"' if i in numeric else "" for i in range(len(head))]
    out = ["<table><thead><tr>"]
    out += [f"<th{cls[i]}>{h}</th>" for i, h in enumerate(head)]
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>" + "".join(f"<td{cls[i]}>{c}</td>" for i, c in enumerate(row)) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="carbonledger {_e(__version__)}">\n'
        f"<title>{_e(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
        f"{body}\n"
        f"<footer>Generated by carbonledger {_e(__version__)}. Energy is IT energy before PUE "
        "unless marked facility; carbon is in CO2-equivalents. Every figure shows how it was "
        "obtained: <em>measured</em> by a sensor, <em>modeled</em> from a table, or a "
        "<em>default</em>.</footer>\n</main>\n</body>\n</html>\n"
    )


# -- one run -----------------------------------------------------------------------------


def _card(label: str, value: str, detail: str = "") -> str:
    return (
        f'<div class="card"><div class="label">{label}</div><div class="value">{value}</div>'
        f'<div class="detail">{detail}</div></div>'
    )


def _summary(fp: Footprint) -> str:
    energy_detail = ""
    if fp.energy_interval_j is not None:
        lo, hi = fp.energy_interval_j
        energy_detail = f"interval {_energy(lo)} – {_energy(hi)}<br>"
    energy_detail += f"facility (× PUE): {_energy(fp.facility_energy_j)}"
    carbon_detail = ""
    if fp.total_interval_g is not None:
        lo, hi = fp.total_interval_g
        carbon_detail = f"interval {_mass(lo)} – {_mass(hi)}<br>"
    carbon_detail += f"operational {_mass(fp.operational_g)} + embodied {_mass(fp.embodied_g)}"
    i = fp.intensity
    intensity = "—" if i.g_per_kwh is None else f"{fmt_number(i.g_per_kwh)} g/kWh"
    intensity_detail = f"{_badge(i.method)} {_e(intensity_phrase(i))}"
    cards = [
        _card("IT energy", _energy(fp.energy_j), energy_detail),
        _card("Carbon (total)", _mass(fp.total_g), carbon_detail),
        _card("Grid intensity", _e(intensity), intensity_detail),
        _card("PUE", _e(fmt_number(fp.pue)), f"source: {_e(fp.pue_source)}"),
    ]
    fu = fp.functional_unit
    if fu is not None:
        per = "—" if fu.g_per_unit is None else f"{fmt_number(fu.g_per_unit)} g"
        cards.append(
            _card(f"SCI per {_e(fu.name)}", _e(per), f"{_e(fmt_number(fu.count))} {_e(fu.name)}")
        )
    return f'<div class="cards">{"".join(cards)}</div>'


def _header(fp: Footprint, run: RunRecord | None, devices_text: str) -> str:
    tags = "".join(f'<span class="tag">{_e(k)}={_e(v)}</span>' for k, v in fp.tags.items())
    return (
        f"<h2>{_e(fp.name)}</h2>"
        f'<p class="meta">run <code>{_e(fp.run_id)}</code> · {_e(fp.phase)} · {_e(fp.status)}'
        f" · {_when(fp.started_at)} → {_when(fp.ended_at)} ({_e(_duration(fp.duration_s))})"
        f" · scope {_e(fp.scope)} · hardware {_e(devices_text)}</p>"
        + (f"<p>{tags}</p>" if tags else "")
    )


def _notes(fp: Footprint) -> str:
    if not fp.warnings:
        return ""
    items = "".join(f"<li>{_e(w)}</li>" for w in fp.warnings)
    return f'<div class="notes"><strong>Notes</strong><ul>{items}</ul></div>'


def _methods(fp: Footprint) -> str:
    rows = []
    for c in fp.components:
        rows.append(
            [
                _e(c.component.upper()),
                f"{_e(c.name)}<br><span class='muted mono'>{_e(c.device)}</span>",
                _energy(c.energy_j),
                "—" if c.mean_power_w is None else _e(f"{c.mean_power_w:.1f} W"),
                _badge(c.method),
                f"<span class='mono'>{_e(c.source)}</span>",
                _rel(c.uncertainty_rel),
            ]
        )
    i = fp.intensity
    rows.append(
        [
            "grid intensity",
            _e(f"{i.zone or 'no zone'} · {i.signal} · {i.basis}")
            + ("<br>time-aligned" if i.time_aligned else "<br>one average for the run"),
            _e("—" if i.g_per_kwh is None else f"{fmt_number(i.g_per_kwh)} g/kWh"),
            "",
            _badge(i.method),
            f"<span class='mono'>{_e(i.source)}</span>",
            _rel(i.uncertainty_rel),
        ]
    )
    rows.append(
        ["PUE", "facility overhead", _e(fmt_number(fp.pue)), "", "", _e(fp.pue_source), "—"]
    )
    for item in fp.embodied:
        rows.append(
            [
                "embodied",
                _e(f"{fmt_number(item.count)} × {item.item}"),
                _mass(item.g),
                "",
                "",
                f"<span class='mono'>{_e(item.source)}</span>",
                _rel(item.uncertainty_rel),
            ]
        )
    head = ["what", "device / detail", "value", "mean power", "method", "source", "uncertainty"]
    return "<h3>Methods and sources</h3>" + _table(head, rows, numeric=(2, 3, 6))


def _chart_figure(
    make: Callable[[], str | None], caption: str, missing: str, *, wide: bool = False
) -> str:
    try:
        svg = make()
    except Exception as exc:  # a broken chart must not take the report down; say so
        log.warning("chart failed: %s", exc)
        return f'<p class="charts-missing">Chart could not be drawn: {_e(exc)}</p>'
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
        start, end = _unix(span.started_at), _unix(span.ended_at)
        if start is not None:
            out.append(SpanRecord(span.path, start, end, {}))
    return out


def _unix(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _charts(fp: Footprint, data: ReportInput, index: int) -> str:
    if not charts.available():
        return (
            "<h3>Charts</h3><p class='charts-missing'>Charts are not drawn because matplotlib "
            "is not installed: <code>pip install 'carbonledger[report]'</code>.</p>"
        )
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
                f"Grid carbon intensity for {_e(series.zone)} ({_e(series.source)}) around "
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
        start, end = _unix(span.started_at), _unix(span.ended_at)
        duration = None if start is None or end is None else end - start
        rows.append(
            [
                f"<span style='padding-left:{depth * 16}px'>{_e(span.path)}</span>",
                _when(span.started_at),
                _e(_duration(duration)),
                _energy(span.energy_j),
                _mass(span.total_g),
            ]
        )
    head = ["span", "started", "duration", "IT energy", "carbon"]
    return "<h3>Spans</h3>" + _table(head, rows, numeric=(2, 3, 4))


def _metrics(fp: Footprint) -> str:
    if not fp.metrics:
        return ""
    rows = [[_e(k), _value(v)] for k, v in fp.metrics.items()]
    return "<h3>Metrics</h3>" + _table(["metric", "value"], rows, numeric=(1,))


def _embodied(fp: Footprint) -> str:
    if not fp.embodied:
        return ""
    rows = [
        [
            _e(item.item),
            _e(fmt_number(item.count)),
            _mass(item.total_g),
            _e(f"{fmt_number(item.lifetime_years)} y × {item.lifetime_use:.0%} use"),
            _e(f"{item.share:.0%}"),
            _mass(item.g),
            f"<span class='mono'>{_e(item.source)}</span>",
        ]
        for item in fp.embodied
    ]
    head = ["item", "count", "whole-life embodied", "lifetime", "share", "this run", "source"]
    return (
        "<h3>Embodied emissions</h3><p class='muted'>SCI: M = TE × time reserved ÷ (lifetime × "
        "use) × resources reserved ÷ total resources.</p>"
        + _table(head, rows, numeric=(1, 2, 4, 5))
    )


def _dl(mapping: Mapping[str, Any]) -> str:
    items = []
    for key, value in mapping.items():
        inner = _dl(value) if isinstance(value, Mapping) and value else _value(value)
        items.append(f"<dt>{_e(key)}</dt><dd>{inner}</dd>")
    return f'<dl class="env">{"".join(items)}</dl>'


def _environment(fp: Footprint) -> str:
    if not fp.host:
        return "<h3>Environment</h3><p class='muted'>No host facts were recorded.</p>"
    return "<h3>Environment</h3>" + _dl(fp.host)


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
        parts.append(f"<p>The tracked command:</p><pre>{_e(command)}</pre>")
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
        f"<pre>carbonledger report {_e(rid)} --format html -o report.html</pre>"
    )
    return "".join(parts)


def _run_section(fp: Footprint, data: ReportInput, index: int) -> str:
    rid = fp.run_id or ""
    run = next((r for r in data.runs if r.run_id == rid), None)
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
        + _reproduce(fp, run)
        + "</section>"
    )


def _overview(footprints: Sequence[Footprint]) -> str:
    rows = [
        [
            f'<a href="#run-{i}">{_e(fp.name)}</a>',
            f"<code>{_e((fp.run_id or '')[:12])}</code>",
            _e(fp.phase),
            _e(_duration(fp.duration_s)),
            _energy(fp.energy_j),
            _mass(fp.total_g),
            _e(fp.intensity.zone or "—"),
        ]
        for i, fp in enumerate(footprints)
    ]
    head = ["run", "id", "phase", "duration", "IT energy", "carbon", "zone"]
    return "<h2>Overview</h2>" + _table(head, rows, numeric=(3, 4, 5))


def render(data: ReportInput) -> str:
    """The HTML report of every footprint in ``data``: one section per run."""
    footprints = list(data.footprints)
    if len(footprints) == 1:
        title = f"carbonledger report: {footprints[0].name}"
    else:
        title = f"carbonledger report: {len(footprints)} runs"
    heading = "Energy and carbon report" if len(footprints) == 1 else title
    body = [f"<h1>{_e(heading)}</h1>"]
    if len(footprints) > 1:
        body.append(_overview(footprints))
    body += [_run_section(fp, data, i) for i, fp in enumerate(footprints)]
    if not footprints:
        body.append("<p>No runs.</p>")
    return _page(title, "\n".join(body))


# -- leaderboard -------------------------------------------------------------------------


def _objective_cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and not math.isfinite(value):
        return "—"
    return _e(fmt_number(float(value), 4)) if isinstance(value, (int, float)) else _e(value)


def render_leaderboard(
    rows: Sequence[Mapping[str, Any]],
    objectives: Sequence[tuple[str, str]],
    *,
    title: str = "carbonledger leaderboard",
    skipped: Sequence[Mapping[str, Any]] = (),
) -> str:
    """A leaderboard page: the Pareto front of the first two objectives and the table."""
    body = [f"<h1>{_e(title)}</h1>"]
    listed = ", ".join(
        f"<code>{_e(name)}</code> ({'higher' if sense == 'max' else 'lower'} is better)"
        for name, sense in objectives
    )
    body.append(
        f"<p>Objectives: {listed}. A run is on the <strong>Pareto front</strong> when no other "
        "run is at least as good on every objective and better on one; runs missing a value "
        "are not placed.</p>"
    )
    if len(objectives) >= 2:
        if charts.available():
            body.append(
                _chart_figure(
                    lambda: charts.pareto_chart(rows, objectives),
                    f"Runs on {_e(objectives[0][0])} and {_e(objectives[1][0])}; the Pareto "
                    "front in red (computed on all objectives).",
                    "No run has both of the first two objectives.",
                    wide=True,
                )
            )
        else:
            body.append(
                "<p class='charts-missing'>The chart needs matplotlib: "
                "<code>pip install 'carbonledger[report]'</code>.</p>"
            )
    head = ["#", "run", "id", *(_e(name) for name, _ in objectives), "Pareto", "dominated by"]
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
                _e(row.get("name")),
                f"<code>{_e((row.get('run_id') or '')[:12])}</code>",
                *(_objective_cell(values.get(name)) for name, _ in objectives),
                _e(mark),
                " ".join(f"<code>{_e(str(r)[:12])}</code>" for r in row.get("dominated_by", ())),
            ]
        )
    numeric = tuple(range(3, 3 + len(objectives)))
    body.append(_table(head, table_rows, numeric=numeric))
    if skipped:
        items = "".join(
            f"<li><code>{_e(s.get('run_id'))}</code>: {_e(s.get('error'))}</li>" for s in skipped
        )
        body.append(f'<div class="notes"><strong>Runs left out</strong><ul>{items}</ul></div>')
    return _page(title, "\n".join(body))
