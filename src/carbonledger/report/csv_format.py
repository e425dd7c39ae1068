"""CSV: one row per run with the main columns, or one row per sample with ``--samples``.

Text cells that start like a spreadsheet formula (``=``, ``+``, ``-``, ``@``, tab, CR) get
a leading ``'`` (:func:`carbonledger.safetext.csv_cell`, as OWASP recommends).
"""

from __future__ import annotations

import csv
import io

from carbonledger.report.base import ReportInput
from carbonledger.safetext import csv_cell

__all__ = ["RUN_COLUMNS", "SAMPLE_COLUMNS", "render"]

RUN_COLUMNS = (
    "run_id",
    "name",
    "phase",
    "status",
    "started_at",
    "ended_at",
    "duration_s",
    "scope",
    "energy_kwh",
    "pue",
    "facility_energy_kwh",
    "intensity_g_per_kwh",
    "intensity_zone",
    "intensity_method",
    "intensity_source",
    "time_aligned",
    "operational_kgco2e",
    "embodied_kgco2e",
    "total_kgco2e",
    "energy_kwh_low",
    "energy_kwh_high",
    "total_kgco2e_low",
    "total_kgco2e_high",
)
SAMPLE_COLUMNS = ("run_id", "device", "t_start", "t_end", "host_energy_j", "energy_j")


def _cell(value: object) -> object:
    """None as an empty cell; text that starts like a formula neutralised (safetext.csv_cell)."""
    return "" if value is None else csv_cell(value)


def render(data: ReportInput) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if data.include_samples:
        writer.writerow(SAMPLE_COLUMNS)
        for fp in data.footprints:
            for s in data.samples.get(fp.run_id or "", ()):
                row = [fp.run_id, s.device_id, s.t_start, s.t_end, s.host_energy_j, s.energy_j]
                writer.writerow([_cell(v) for v in row])
        return out.getvalue()
    writer.writerow(RUN_COLUMNS)
    for fp in data.footprints:
        d = fp.to_dict()
        energy_iv = d["uncertainty"]["energy_kwh"] or [None, None]
        total_iv = d["uncertainty"]["total_kgco2e"] or [None, None]
        intensity = d["intensity"]
        row = [
            d["run_id"],
            d["name"],
            d["phase"],
            d["status"],
            d["started_at"],
            d["ended_at"],
            d["duration_s"],
            d["scope"],
            d["energy_kwh"],
            d["pue"],
            d["facility_energy_kwh"],
            intensity["g_per_kwh"],
            intensity["zone"],
            intensity["method"],
            intensity["source"],
            intensity["time_aligned"],
            d["operational_kgco2e"],
            d["embodied_kgco2e"],
            d["total_kgco2e"],
            *energy_iv,
            *total_iv,
        ]
        writer.writerow([_cell(v) for v in row])
    return out.getvalue()
