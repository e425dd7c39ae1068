#!/usr/bin/env python3
"""Build the two tables the VM-share CPU model uses.

    python scripts/build_vcpu_tables.py [--data DIR] [--check]

``src/carbonledger/data/vcpu_power.csv`` (header :data:`carbonledger.sensors.virt.VCPU_HEADER`):
per cloud (``aws``, ``azure``, ``gcp``, and ``any`` for a VM whose cloud is unknown),

- ``min_w`` / ``max_w``: Cloud Carbon Footprint's watts per vCPU at idle and at 100 %, the
  mean over the microarchitectures of ``ccf_coefficients_<cloud>_use.csv`` (CCF's own
  default when the microarchitecture is unknown; ``any`` pools the three clouds' rows);
- ``uncertainty_rel``: the smallest symmetric relative error around ``min + u × (max − min)``
  that covers, at u = 0 and at u = 1 (the power is linear in u, so the ends bound it), the
  10th to 90th percentile of the per-microarchitecture figures; rounded up to 0.05;
- ``host_threads``: the median, over the cloud's instance families, of the largest size in
  the family (vCPUs) from the bundled ``cloud_instances_embodied.csv``: the typical host a VM
  of that cloud is a share of (``any``: over all three clouds);
- ``architectures``: how many microarchitectures the figures pool.

``src/carbonledger/data/cpu_threads.csv`` (``model_key,cores_per_chip,threads_per_core,results``):
cores per chip and threads per core of the CPU models in ``cpu_tdp.csv`` that appear in the
SPECpower_ssj2008 results (``specpower_*.csv``), matched with the sensors' own CPU-name
matcher; a model whose results disagree is left out.

``DIR`` defaults to ``../shared/data`` next to the repository; ``--check`` compares instead
of writing (exit 1 when out of date). The output is deterministic.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import statistics
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from carbonledger.sensors import cpu_model, virt

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
OUT_DIR = REPO / "src" / "carbonledger" / "data"
CLOUDS = ("aws", "azure", "gcp")


def _use_rows(path: Path) -> list[tuple[str, float, float]]:
    rows = []
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        for row in reader:
            try:
                low, high = float(row["Min Watts"]), float(row["Max Watts"])
            except (KeyError, TypeError, ValueError):
                raise SystemExit(f"{path}:{reader.line_num}: Min/Max Watts not numbers") from None
            if not (math.isfinite(low) and math.isfinite(high) and 0 < low <= high):
                raise SystemExit(f"{path}:{reader.line_num}: invalid watts {low}, {high}")
            rows.append((row["Architecture"].strip(), low, high))
    return rows


def _quantile(values: Sequence[float], q: float) -> float:
    return statistics.quantiles(sorted(values), n=10, method="inclusive")[round(q * 10) - 1]


def coefficients(rows: Sequence[tuple[str, float, float]]) -> tuple[float, float, float]:
    """``(min_w, max_w, uncertainty_rel)`` of a cloud's per-architecture rows."""
    low = statistics.fmean(r[1] for r in rows)
    high = statistics.fmean(r[2] for r in rows)
    rel = 0.0
    for centre, values in ((low, [r[1] for r in rows]), (high, [r[2] for r in rows])):
        p10, p90 = _quantile(values, 0.1), _quantile(values, 0.9)
        rel = max(rel, (p90 - centre) / centre, (centre - p10) / centre)
    return low, high, math.ceil(rel * 20 - 1e-9) / 20


def host_threads(cloud_table: Path) -> dict[str, float]:
    """Median largest size (vCPUs) of the instance families, per cloud and for ``any``."""
    largest: dict[str, dict[str, float]] = defaultdict(dict)
    with cloud_table.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["family_max_units"]:
                largest[row["provider"]][row["family"]] = float(row["family_max_units"])
    out = {cloud: statistics.median(largest[cloud].values()) for cloud in CLOUDS}
    out["any"] = statistics.median(v for cloud in CLOUDS for v in largest[cloud].values())
    return out


def build_vcpu(data: Path) -> str:
    threads = host_threads(OUT_DIR / "cloud_instances_embodied.csv")
    pooled: list[tuple[str, float, float]] = []
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(virt.VCPU_HEADER)
    for cloud in CLOUDS:
        rows = _use_rows(data / "hardware" / f"ccf_coefficients_{cloud}_use.csv")
        pooled.extend(rows)
        low, high, rel = coefficients(rows)
        writer.writerow(
            [cloud, f"{low:.4f}", f"{high:.4f}", f"{rel:g}", f"{threads[cloud]:g}", len(rows)]
        )
    low, high, rel = coefficients(pooled)
    writer.writerow(
        ["any", f"{low:.4f}", f"{high:.4f}", f"{rel:g}", f"{threads['any']:g}", len(pooled)]
    )
    return out.getvalue()


def build_threads(data: Path) -> str:
    specpower = sorted((data / "hardware").glob("specpower_*.csv"))[-1]
    table = cpu_model.CpuTable.load()
    found: dict[str, set[tuple[int, int]]] = defaultdict(set)
    with specpower.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            try:
                cores = int(row["# Cores Per Chip"])
                per_core = int(row["# Threads Per Core"])
            except (KeyError, TypeError, ValueError):
                continue
            entry = table.match(row.get("CPU Description") or "")
            if entry is not None and cores > 0 and per_core > 0:
                found[entry.key].add((cores, per_core))
    counts: dict[str, int] = defaultdict(int)
    with specpower.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            entry = table.match(row.get("CPU Description") or "")
            if entry is not None:
                counts[entry.key] += 1
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(virt.THREADS_HEADER)
    dropped = 0
    for key in sorted(found):
        if len(found[key]) != 1:
            dropped += 1
            continue
        ((cores, per_core),) = found[key]
        writer.writerow([key, cores, per_core, counts[key]])
    print(f"cpu_threads: {len(found) - dropped} models, {dropped} inconsistent", file=sys.stderr)
    return out.getvalue()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    status = 0
    for name, text in (
        (virt.VCPU_FILE, build_vcpu(args.data)),
        (virt.THREADS_FILE, build_threads(args.data)),
    ):
        path = OUT_DIR / name
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                print(f"{path} is out of date: run scripts/build_vcpu_tables.py", file=sys.stderr)
                status = 1
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}", file=sys.stderr)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
