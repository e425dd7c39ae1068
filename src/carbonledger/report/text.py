"""A short human-readable summary of each footprint."""

from __future__ import annotations

from carbonledger.lifecycle.footprint import Footprint
from carbonledger.report.base import ReportInput
from carbonledger.report.numbers import format_energy_interval, format_mass_interval
from carbonledger.safetext import term

__all__ = ["format_energy_kwh", "format_mass_kg", "render", "summary"]


def format_energy_kwh(kwh: float | None) -> str:
    if kwh is None:
        return "unknown"
    if abs(kwh) >= 1:
        return f"{kwh:,.3f} kWh"
    if abs(kwh) >= 1e-3:
        return f"{kwh * 1e3:.3f} Wh"
    joules = kwh * 3.6e6
    return f"{joules:.3g} J" if abs(joules) < 1 else f"{joules:.1f} J"  # never "0.0 J"


def format_mass_kg(kg: float | None) -> str:
    if kg is None:
        return "unknown"
    if abs(kg) >= 1000:
        return f"{kg / 1000:,.3f} tCO2e"
    if abs(kg) >= 1:
        return f"{kg:,.3f} kgCO2e"
    if abs(kg) >= 1e-3:
        return f"{kg * 1e3:.3f} gCO2e"
    mg = kg * 1e6
    return f"{mg:.3g} mgCO2e" if abs(mg) < 1 else f"{mg:.1f} mgCO2e"  # never "0.0 mgCO2e"


def summary(fp: Footprint) -> str:
    d = fp.to_dict()
    lines = [
        f"carbonledger: {d['name']} [{d['phase']}] {d['status']}"
        + (f", {d['duration_s']:.1f} s" if d["duration_s"] is not None else "")
        + (f", run {d['run_id'][:12]}" if d["run_id"] else ""),
    ]
    for c in d["components"]:
        power = f"{c['mean_power_w']:.1f} W" if c["mean_power_w"] is not None else "? W"
        share = ""
        if d["scope"] == "process" and c["host_energy_kwh"] is not None:
            share = f" (host {format_energy_kwh(c['host_energy_kwh'])})"
        rel = f" ±{c['uncertainty_rel']:.0%}" if c["uncertainty_rel"] is not None else ""
        lines.append(
            f"  {c['component']:<4} {format_energy_kwh(c['energy_kwh']):>12}{share}  "
            f"{power:>9}  {c['method']}{rel}  [{c['source']}]"
        )
    iv = _bracket(format_energy_interval(d["uncertainty"]["energy_kwh"]))
    lines.append(
        f"  energy  {format_energy_kwh(d['energy_kwh'])}{iv}, "
        f"PUE {d['pue']:.2f} ({d['pue_source']})"
    )
    i = d["intensity"]
    g = f"{i['g_per_kwh']:.0f} g/kWh" if i["g_per_kwh"] is not None else "unknown"
    aligned = "time-aligned" if i["time_aligned"] else "one average"
    year = f" {i['year']}" if i.get("year") else ""
    lines.append(
        f"  grid    {g} ({i['zone'] or 'no zone'}, {i['signal']}, {i['basis']}, "
        f"{i['method']}, {aligned}) "
        f"[{i['source']}{year}]"
    )
    iv = _bracket(format_mass_interval(d["uncertainty"]["total_kgco2e"]))
    carbon = f"  carbon  {format_mass_kg(d['total_kgco2e'])}{iv}"
    if d["embodied_kgco2e"] is not None:
        carbon += (
            f" = operational {format_mass_kg(d['operational_kgco2e'])}"
            f" + embodied {format_mass_kg(d['embodied_kgco2e'])}"
        )
    lines.append(carbon)
    fu = d["functional_unit"]
    if fu and fu["gco2e_per_unit"] is not None:
        per_unit = fu.get("gco2e_per_unit_interval")
        per_unit_iv = _bracket(
            format_mass_interval([v / 1000 for v in per_unit] if per_unit else None)
        )
        lines.append(
            f"  SCI     {format_mass_kg(fu['gco2e_per_unit'] / 1000)}{per_unit_iv} per {fu['name']}"
        )
    for span in d["spans"]:
        span_iv = span.get("uncertainty") or {}
        lines.append(
            f"  span    {span['path']}: {format_energy_kwh(span['energy_kwh'])}"
            f"{_bracket(format_energy_interval(span_iv.get('energy_kwh')))}, "
            f"{format_mass_kg(span['total_kgco2e'])}"
            f"{_bracket(format_mass_interval(span_iv.get('total_kgco2e')))}"
        )
    for warning in d["warnings"]:
        lines.append(f"  note    {warning}")
    # user text (names, tags, span paths, sources) cannot act on the terminal or break lines
    return "\n".join(term(line) for line in lines)


def render(data: ReportInput) -> str:
    return "\n\n".join(summary(fp) for fp in data.footprints) + "\n"


def _bracket(text: str) -> str:
    """`` [text]`` for an interval, nothing for none (never a made-up bound)."""
    return f" [{text}]" if text else ""
