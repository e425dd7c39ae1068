"""The savings table of docs/guides/carbon-aware-scheduling.md, from the real hourly traces.

    .venv/bin/python scripts/scheduling_savings_table.py [--duration 6h] [--extra 24h]

Runs ``carbonledger simulate`` (lifecycle basis) on every ``<ZONE>_<YEAR>_hourly.csv`` in
``<repo>/../shared/data/grid/hourly`` (Electricity Maps, ODbL 1.0) and prints a Markdown
table: per zone and year, the mean intensity of starting at once and the mean savings of
flexible start and of pause and resume.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from carbonledger.intensity.series_csv import load_series
from carbonledger.schedule.simulate import simulate
from carbonledger.schedule.timeparse import parse_duration, parse_extra

HOURLY = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "grid" / "hourly"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", default="6h")
    parser.add_argument("--extra", default="24h")
    args = parser.parse_args()
    duration_s = parse_duration(args.duration)
    extra_s = parse_extra(args.extra, duration_s)
    files = sorted(HOURLY.glob("*_hourly.csv"))
    if not files:
        print(f"no traces in {HOURLY}", file=sys.stderr)
        return 1
    print(
        "| trace | zone id | year | estimated hours | start at once (g/kWh) | "
        "flexible start: mean savings | pause & resume: mean savings | "
        "pause & resume: p95 |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for path in files:
        trace, year, _ = path.stem.rsplit("_", 2)
        series = load_series(path, basis="lifecycle")
        sim = simulate(series, duration_s=duration_s, extra_s=extra_s)
        data = sim.to_dict()
        flags = series.estimated or ()
        estimated = f"{100 * sum(flags) / len(series):.0f} %" if flags else "0 %"
        print(
            f"| {trace} | {series.zone} | {year} | {estimated} | "
            f"{data['baseline_mean_g_per_kwh']:.0f} | "
            f"{sim.flexible_start.mean_savings_pct:.1f} % | "
            f"{sim.pause_resume.mean_savings_pct:.1f} % | "
            f"{sim.pause_resume.percentiles_pct[-1]:.1f} % |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
