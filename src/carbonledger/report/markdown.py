"""A Hugging Face model-card block: ``co2_eq_emissions`` front matter and a paragraph.

The metadata follows the Hub's "Displaying carbon emissions for your model" page
(huggingface.co/docs/hub/model-cards-co2): ``emissions`` in grams of CO2e (a number),
``source``, ``training_type``, ``geographical_location`` and ``hardware_used``.

* ``emissions``: the sum of the runs' **operational** emissions, grams: what other cards on
  the Hub report, so cards stay comparable. The embodied part and the total sit beside it
  (``embodied_emissions``, ``total_emissions``, extra keys the Hub's metadata tolerates) and
  in the paragraph. When a run has no value, the key is left out and a YAML comment says
  why (never a made-up 0).
* ``training_type``: a run's ``training_type`` tag when it has one; the Hub documents
  ``pre-training`` and ``fine-tuning``. carbonledger cannot tell them apart by itself, so an
  untagged run writes no ``training_type`` (tag it: ``--tag training_type=fine-tuning``);
  the paragraph names the runs' phases instead.
* ``geographical_location``: the zone, or ``unknown`` when the intensity was the
  world-average default; never a guessed place.
* ``hardware_used``: GPUs and CPUs with counts, e.g. ``8 x NVIDIA A100-SXM4-80GB``.

Several runs (one model trained in several runs) are summed into one block. The YAML is
written by hand (PyYAML is not a dependency): strings are double-quoted with escapes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from carbonledger.lifecycle.footprint import Footprint
from carbonledger.report.base import ReportInput
from carbonledger.report.statement import fmt_number, hardware_counts, intensity_phrase
from carbonledger.units import g_to_kg, j_to_kwh, s_to_hours

__all__ = [
    "PHASE_TRAINING_TYPE",
    "co2_eq_emissions",
    "render",
    "training_type",
    "yaml_number",
    "yaml_quote",
]

PHASE_TRAINING_TYPE = {
    "training": "training",
    "experimentation": "experimentation",
    "data": "data preparation",
    "inference": "inference",
    "other": "other",
}
SOURCE = "carbonledger"

_YAML_ESCAPES = {
    "\\": "\\\\",
    '"': '\\"',
    "\n": "\\n",
    "\t": "\\t",
    "\r": "\\r",
    "\0": "\\0",
}


def yaml_quote(text: str) -> str:
    """``text`` as a YAML double-quoted scalar; anything not plainly printable is escaped."""
    out = ['"']
    for ch in str(text):
        code = ord(ch)
        if ch in _YAML_ESCAPES:
            out.append(_YAML_ESCAPES[ch])
        elif 0x20 <= code < 0x7F or (
            code > 0xA0 and ch.isprintable() and not 0xD800 <= code <= 0xDFFF and code != 0xFEFF
        ):
            out.append(ch)
        elif code <= 0xFF:
            out.append(f"\\x{code:02x}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def yaml_number(value: float) -> str:
    """A finite float as a YAML 1.1 float (with a dot, no exponent: PyYAML reads it back)."""
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    if value == 0:
        return "0.0"
    decimals = min(max(1, 5 - math.floor(math.log10(abs(value)))), 15)
    text = f"{value:.{decimals}f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def training_type(fp: Footprint) -> str:
    """The run's ``training_type`` tag, or its phase mapped as the module says (for the
    paragraph; the front matter writes only tags)."""
    tagged = fp.tags.get("training_type")
    if tagged:
        return tagged
    return PHASE_TRAINING_TYPE.get(fp.phase, fp.phase)


def _location(fp: Footprint) -> str:
    if fp.intensity.zone is None or fp.intensity.method == "default":
        return "unknown"
    return fp.intensity.zone


def _joined(values: Sequence[str]) -> str:
    return ", ".join(dict.fromkeys(values))


def _hardware(footprints: Sequence[Footprint], data: ReportInput) -> str:
    counts: dict[str, int] = {}
    for fp in footprints:
        for n, name, _ in hardware_counts(fp, data.devices.get(fp.run_id or "", ())):
            counts[name] = max(counts.get(name, 0), n)  # the same machine in several runs
    return ", ".join(f"{n} x {name}" for name, n in counts.items()) or "unknown"


def co2_eq_emissions(data: ReportInput) -> dict[str, object]:
    """The ``co2_eq_emissions`` mapping (``emissions`` absent when it is unknown)."""
    footprints = list(data.footprints)
    ops = [fp.operational_g for fp in footprints]
    totals = [fp.total_g for fp in footprints]
    fields: dict[str, object] = {}
    if footprints and all(o is not None for o in ops):
        fields["emissions"] = math.fsum(o for o in ops if o is not None)
    embodied = [fp.embodied_g for fp in footprints if fp.embodied_g is not None]
    if embodied:
        fields["embodied_emissions"] = math.fsum(embodied)
    if footprints and all(t is not None for t in totals):
        fields["total_emissions"] = math.fsum(t for t in totals if t is not None)
    fields["source"] = SOURCE
    tagged = [fp.tags.get("training_type") for fp in footprints]
    if footprints and all(tagged):
        fields["training_type"] = _joined([t for t in tagged if t])
    fields["geographical_location"] = _joined([_location(fp) for fp in footprints]) or "unknown"
    fields["hardware_used"] = _hardware(footprints, data)
    return fields


def _front_matter(data: ReportInput) -> str:
    fields = co2_eq_emissions(data)
    lines = ["---", "co2_eq_emissions:"]
    if "emissions" not in fields:
        lines.append("  # emissions: unknown (a run has no emissions value); not reported as 0")
    for key, value in fields.items():
        if isinstance(value, float):
            lines.append(f"  {key}: {yaml_number(value)}")
        else:
            lines.append(f"  {key}: {yaml_quote(str(value))}")
    lines.append("---")
    return "\n".join(lines)


def _paragraph(data: ReportInput) -> str:
    footprints = list(data.footprints)
    if not footprints:
        return "No runs were given, so no emissions are reported."
    energy = [fp.energy_j for fp in footprints]
    totals = [fp.total_g for fp in footprints]
    ops = [fp.operational_g for fp in footprints]
    embodied = [fp.embodied_g for fp in footprints if fp.embodied_g is not None]
    hours = [fp.duration_s for fp in footprints if fp.duration_s is not None]
    runs = "one run" if len(footprints) == 1 else f"{len(footprints)} runs"
    kinds = _joined([training_type(fp) for fp in footprints])
    text = [
        f"The {kinds} recorded here ({runs}, {fmt_number(s_to_hours(math.fsum(hours)))} hours "
        f"on {_hardware(footprints, data)}) "
    ]
    if all(e is not None for e in energy):
        text.append(
            f"used {fmt_number(j_to_kwh(math.fsum(e for e in energy if e is not None)))} kWh "
            "of IT energy"
        )
    else:
        text.append("used an unknown amount of energy (a run has no energy value)")
    if all(t is not None for t in totals):
        total = math.fsum(t for t in totals if t is not None)
        op = math.fsum(o for o in ops if o is not None)
        text.append(
            f" and emitted {fmt_number(op)} gCO2e operational (the metadata's `emissions`)"
            + (
                f" plus {fmt_number(math.fsum(embodied))} g embodied, {fmt_number(total)} gCO2e "
                f"({fmt_number(g_to_kg(total))} kgCO2e) in total"
                if embodied
                else f" ({fmt_number(g_to_kg(total))} kgCO2e)"
            )
            + "."
        )
        intervals = [fp.total_interval_g for fp in footprints]
        if len(footprints) == 1 and intervals[0] is not None:
            lo, hi = intervals[0]
            text.append(f" Uncertainty interval: {fmt_number(lo)} to {fmt_number(hi)} gCO2e.")
    else:
        text.append("; its emissions could not be computed for every run.")
    sources = _joined([intensity_phrase(fp.intensity) for fp in footprints])
    text.append(f" Grid intensity: {sources}.")
    by_method: dict[str, set[str]] = {}
    for fp in footprints:
        for c in fp.components:
            by_method.setdefault(c.method, set()).add(c.component.upper())
    if by_method:
        parts = [f"{m} ({', '.join(sorted(by_method[m]))})" for m in sorted(by_method)]
        text.append(f" Energy by component: {'; '.join(parts)}.")
    notes = list(dict.fromkeys(w for fp in footprints for w in fp.warnings))
    if notes:
        text.append(f" Caveats that changed these numbers: {'; '.join(notes)}.")
    text.append(" Accounted with carbonledger.")
    # markdown renderers pass HTML through: user and host strings must not become markup
    return escape("".join(text), quote=False)


def render(data: ReportInput) -> str:
    """The front-matter block and a short paragraph under an ``## Environmental impact`` head."""
    return f"{_front_matter(data)}\n\n## Environmental impact\n\n{_paragraph(data)}\n"
