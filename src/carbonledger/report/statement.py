"""A paragraph for a paper's compute statement, and wording shared by the human reports.

The paragraph names what the ML CO2 Impact calculator's template (Lacoste et al. 2019,
"Quantifying the Carbon Emissions of Machine Learning") and the Green AutoML checklist
(Tornede et al. 2023, "Towards Green Automated Machine Learning") ask authors to report:
hardware and how many, hours of compute, energy, PUE, grid intensity and its source,
emissions with their uncertainty, and embodied emissions. Every number says how it was
obtained: "measured with RAPL" or "estimated from TDP", never one for the other.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from carbonledger import __version__
from carbonledger.lifecycle.footprint import Footprint, IntensityUsed
from carbonledger.records import DeviceInfo
from carbonledger.report.base import ReportInput
from carbonledger.units import g_to_kg, j_to_kwh, s_to_hours

__all__ = [
    "fmt_number",
    "hardware_counts",
    "hardware_used",
    "intensity_phrase",
    "method_phrase",
    "render",
    "statement",
]

_SENSOR_NAMES = {
    "rapl": "RAPL",
    "nvml": "NVML",
    "amdsmi": "AMD SMI",
    "amd": "AMD SMI",
    "powercap": "RAPL (powercap)",
}


def fmt_number(value: float | None, digits: int = 3) -> str:
    """``value`` to ``digits`` significant figures, without exponent for everyday sizes."""
    if value is None or not math.isfinite(value):
        return "n/a"
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    if magnitude >= 9 or magnitude < -6:
        return f"{value:.{digits - 1}e}"
    decimals = max(digits - 1 - magnitude, 0)
    text = f"{value:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def method_phrase(method: str, source: str) -> str:
    """How a number was obtained, in words: "measured with RAPL", "estimated from TDP (…)"."""
    prefix = source.split(":", 1)[0].strip().lower()
    low = source.lower()
    if method == "measured":
        sensor = _SENSOR_NAMES.get(prefix)
        return f"measured with {sensor}" if sensor else f"measured ({source})"
    if method == "modeled":
        if "tdp" in low:
            return f"estimated from TDP ({source})"
        if "ram" in low or "memory" in low:
            return f"estimated from installed memory ({source})"
        return f"estimated with a model ({source})"
    if method == "default":
        return f"assumed (default value: {source})"
    if method == "attributed":
        return f"attributed: a share of a measured whole, split by a stated rule ({source})"
    return "not available"


def hardware_counts(
    fp: Footprint, devices: Sequence[DeviceInfo] = ()
) -> list[tuple[int, str, str]]:
    """(count, name, component) of the run's CPUs and GPUs, GPUs first.

    Taken from the footprint's components, or from ``devices`` when it has none.
    """
    counts: dict[tuple[str, str], int] = {}
    entries = [(c.component, c.name or c.component.upper()) for c in fp.components]
    if not entries:
        entries = [(str(d.component), d.name or str(d.component).upper()) for d in devices]
    for component, name in entries:
        if component in ("gpu", "cpu"):
            counts[(component, name)] = counts.get((component, name), 0) + 1
    ordered = sorted(counts.items(), key=lambda kv: (kv[0][0] != "gpu", kv[0][1]))
    return [(n, name, component) for (component, name), n in ordered]


def hardware_used(fp: Footprint, devices: Sequence[DeviceInfo] = ()) -> str:
    """``"8 x NVIDIA A100-SXM4-80GB, 2 x Intel Xeon …"``, or ``"unknown"``."""
    parts = [f"{n} x {name}" for n, name, _ in hardware_counts(fp, devices)]
    return ", ".join(parts) if parts else "unknown"


def intensity_phrase(intensity: IntensityUsed) -> str:
    """Where the grid intensity came from, in words."""
    kind = f"{intensity.signal} {intensity.basis}".replace(" unknown", "")
    if intensity.method == "default" or intensity.zone is None:
        return f"a world-average default ({intensity.source}), because no zone was set"
    if intensity.time_aligned:
        share = (
            f", covering {intensity.coverage:.0%} of the run's energy"
            if intensity.coverage is not None
            else ""
        )
        quality = "measured" if intensity.method == "measured" else "partly estimated"
        return (
            f"{quality} hourly {kind} intensity for zone {intensity.zone}, time-aligned with "
            f"the run's energy ({intensity.source}{share})"
        )
    year = f" {intensity.year}" if intensity.year else ""
    return f"the{year} annual {kind} intensity for zone {intensity.zone} ({intensity.source})"


def _component_methods(fp: Footprint) -> str:
    phrases: dict[str, list[str]] = {}
    for c in fp.components:
        phrase = method_phrase(c.method, c.source)
        bucket = phrases.setdefault(c.component.upper(), [])
        if phrase not in bucket:
            bucket.append(phrase)
    return "; ".join(f"{name} {' and '.join(p)}" for name, p in phrases.items())


def _interval_kg(fp: Footprint) -> str:
    if fp.total_interval_g is None:
        return "no uncertainty interval could be computed"
    lo, hi = (g_to_kg(v) for v in fp.total_interval_g)
    return f"uncertainty interval {fmt_number(lo)} to {fmt_number(hi)} kgCO2e"


def statement(fp: Footprint, devices: Sequence[DeviceInfo] = ()) -> str:
    """The compute-statement paragraph for one footprint."""
    hours = None if fp.duration_s is None else s_to_hours(fp.duration_s)
    counts = hardware_counts(fp, devices)
    gpus = sum(n for n, _, component in counts if component == "gpu")
    where = (
        f" in zone {fp.intensity.zone}"
        if fp.intensity.zone and fp.intensity.method != "default"
        else " at an unrecorded location"
    )
    ident = f"run {fp.run_id[:12]}, " if fp.run_id else ""
    parts = [
        f"The {fp.phase} work “{fp.name}” ({ident}{fp.status}) ran for "
        f"{fmt_number(hours)} hours on {hardware_used(fp, devices)}"
        + (f" ({fmt_number(hours * gpus)} GPU-hours)" if hours is not None and gpus else "")
        + f"{where}."
    ]
    if fp.energy_j is None:
        parts.append("Its energy could not be determined, so no emissions are reported.")
    else:
        methods = _component_methods(fp)
        energy_interval = ""
        if fp.energy_interval_j is not None:
            lo, hi = (j_to_kwh(v) for v in fp.energy_interval_j)
            energy_interval = f", interval {fmt_number(lo)} to {fmt_number(hi)} kWh"
        parts.append(
            f"It used {fmt_number(j_to_kwh(fp.energy_j))} kWh of IT energy"
            f"{energy_interval} ({methods}); with a power usage effectiveness (PUE) of "
            f"{fmt_number(fp.pue)} (from {fp.pue_source}) that is "
            f"{fmt_number(j_to_kwh(fp.energy_j * fp.pue))} kWh at the facility."
        )
    if fp.operational_g is None:
        parts.append("Operational emissions could not be computed: no usable grid intensity.")
    else:
        intensity = fmt_number(fp.intensity.g_per_kwh)
        parts.append(
            f"At a grid carbon intensity of {intensity} gCO2e/kWh, "
            f"{intensity_phrase(fp.intensity)}, operational emissions were "
            f"{fmt_number(g_to_kg(fp.operational_g))} kgCO2e."
        )
    if fp.embodied_g is not None and fp.embodied:
        items = ", ".join(e.item for e in fp.embodied)
        parts.append(
            f"The embodied emissions of the hardware ({items}), amortised over its lifetime "
            f"following the Software Carbon Intensity specification, add "
            f"{fmt_number(g_to_kg(fp.embodied_g))} kgCO2e."
        )
    elif fp.operational_g is not None:
        parts.append("Embodied emissions of the hardware are not included.")
    if fp.total_g is not None:
        parts.append(f"In total: {fmt_number(g_to_kg(fp.total_g))} kgCO2e ({_interval_kg(fp)}).")
    if fp.warnings:
        parts.append(f"Caveats that changed these figures: {'; '.join(fp.warnings)}.")
    parts.append(f"Energy and emissions were accounted with carbonledger {__version__}.")
    return " ".join(parts)


def render(data: ReportInput) -> str:
    """One paragraph per run, and a total when there are several."""
    paragraphs = [statement(fp, data.devices.get(fp.run_id or "", ())) for fp in data.footprints]
    if len(data.footprints) > 1:
        energy = [fp.energy_j for fp in data.footprints]
        totals = [fp.total_g for fp in data.footprints]
        summary = f"Across the {len(data.footprints)} runs: "
        known_e = [e for e in energy if e is not None]
        known_t = [t for t in totals if t is not None]
        summary += f"{fmt_number(j_to_kwh(math.fsum(known_e)))} kWh of IT energy"
        if len(known_e) < len(energy):
            summary += f" ({len(energy) - len(known_e)} run(s) without an energy value)"
        summary += f" and {fmt_number(g_to_kg(math.fsum(known_t)))} kgCO2e in total"
        if len(known_t) < len(totals):
            summary += f" ({len(totals) - len(known_t)} run(s) without emissions)"
        paragraphs.append(summary + ".")
    return "\n\n".join(paragraphs) + "\n"
