"""Building blocks of carbonledger's HTML pages: the stylesheet, escaping and formatting
helpers, tables and the page frame. Every helper escapes what it is given."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone
from html import escape
from typing import Any

from carbonledger import __version__
from carbonledger.report.numbers import (
    ENERGY_UNITS,
    MASS_UNITS,
    format_energy_interval,
    format_mass_interval,
    format_scaled,
)
from carbonledger.report.statement import fmt_number
from carbonledger.units import S_PER_HOUR, g_to_kg, j_to_kwh

__all__ = [
    "CSS",
    "badge",
    "duration",
    "e",
    "energy",
    "energy_interval",
    "mass",
    "mass_interval",
    "page",
    "rel",
    "table",
    "value",
    "when",
]

CSS = """
:root { --ink: #1d1d1f; --muted: #5f6368; --line: #d9dce1; --soft: #f5f6f8;
  --measured: #1e7b34; --modeled: #a85f00; --default: #5f6368; --unavailable: #b3261e;
  --attributed: #1a5fa8; }
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
.badge.attributed { background: var(--attributed); }
.badge.default { background: var(--default); }
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


def e(value: Any) -> str:
    """Escaped text of anything; None as an em dash."""
    return "—" if value is None else escape(str(value), quote=True)


def badge(method: str) -> str:
    return f'<span class="badge {e(method)}">{e(method)}</span>'


def when(iso: str | None) -> str:
    if not iso:
        return "—"
    from carbonledger.timeutil import parse_instant_or_none

    unix = parse_instant_or_none(iso)
    if unix is None:
        return e(iso)
    moment = datetime.fromtimestamp(unix, tz=timezone.utc)
    return e(moment.strftime("%Y-%m-%d %H:%M:%S UTC"))


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.1f} s"
    hours, rest = divmod(seconds, S_PER_HOUR)
    minutes = rest / (S_PER_HOUR / 60)
    return f"{int(hours)} h {minutes:.0f} min" if hours else f"{minutes:.1f} min"


def energy(energy_j: float | None) -> str:
    """An energy in the unit its size calls for (J, Wh, kWh, MWh); "unknown" for None."""
    return e(format_scaled(None if energy_j is None else j_to_kwh(energy_j), ENERGY_UNITS))


def mass(mass_g: float | None) -> str:
    """A mass in the unit its size calls for (mg, g, kg, t CO2e); "unknown" for None."""
    return e(format_scaled(None if mass_g is None else g_to_kg(mass_g), MASS_UNITS))


def energy_interval(interval_j: tuple[float, float] | None) -> str:
    """``[low, high]`` J in one unit for both ends; empty text for None."""
    if interval_j is None:
        return ""
    return e(format_energy_interval((j_to_kwh(interval_j[0]), j_to_kwh(interval_j[1]))))


def mass_interval(interval_g: tuple[float, float] | None) -> str:
    """``[low, high]`` gCO2e in one unit for both ends; empty text for None."""
    if interval_g is None:
        return ""
    return e(format_mass_interval((g_to_kg(interval_g[0]), g_to_kg(interval_g[1]))))


def rel(rel: float | None) -> str:
    return "—" if rel is None else f"±{rel:.0%}"


def value(value: Any) -> str:
    if isinstance(value, float):
        return e(fmt_number(value, 4))
    if isinstance(value, (dict, list, tuple)):
        return f"<code>{e(json.dumps(value, default=str, ensure_ascii=False))}</code>"
    return e(value)


def table(head: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[int] = ()) -> str:
    """A table from already-escaped cells; column indexes in ``numeric`` align right."""
    cls = [' class="num"' if i in numeric else "" for i in range(len(head))]
    out = ["<table><thead><tr>"]
    out += [f"<th{cls[i]}>{h}</th>" for i, h in enumerate(head)]
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>" + "".join(f"<td{cls[i]}>{c}</td>" for i, c in enumerate(row)) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="carbonledger {e(__version__)}">\n'
        f"<title>{e(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
        f"{body}\n"
        f"<footer>Generated by carbonledger {e(__version__)}. Energy is IT energy before PUE "
        "unless marked facility; carbon is in CO2-equivalents. Every figure shows how it was "
        "obtained: <em>measured</em> by a sensor, <em>modeled</em> from a table, or a "
        "<em>default</em>.</footer>\n</main>\n</body>\n</html>\n"
    )
