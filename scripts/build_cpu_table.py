#!/usr/bin/env python3
"""Build ``src/carbonledger/data/cpu_tdp.csv`` from CodeCarbon's ``cpu_power.csv``.

    python scripts/build_cpu_table.py [--source CSV] [--specpower CSV] [--out CSV]
                                      [--check] [--strict]

Input: ``../shared/data/hardware/cpu_power.csv`` (columns ``Name,TDP``; MIT, CodeCarbon).
Output: a CSV with header ``model_key,name,tdp_w`` and no comments, sorted by key, where
``model_key`` is :func:`carbonledger.sensors.cpu_model.normalise_cpu_name` of the name.

Rows are checked; a malformed row (wrong field count, empty name, a TDP that is not a
positive number such as ``27.29.5``) is rejected with its line number on stderr, and
``--strict`` turns any rejection into a failure. Rows whose name has no model number can
never be matched and are left out; names that normalise to the same key with different
TDPs are ambiguous and are left out too (the sensor then reports the CPU as unknown).

The script also recomputes the two constants of the CPU model and fails if
``cpu_model.py`` disagrees: the idle fraction (median of active-idle / 100 %-load power
over the SPECpower_ssj2008 results in ``specpower_*.csv``) and the default TDP (median
TDP of the Xeon and EPYC parts of the table). ``--check`` compares the output with the
bundled file instead of writing it (exit 1 when out of date).
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from carbonledger.sensors import cpu_model

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "hardware"
DEFAULT_SOURCE = SHARED / "cpu_power.csv"
DEFAULT_SPECPOWER = SHARED / "specpower_2026-03-09.csv"
DEFAULT_OUT = REPO / "src" / "carbonledger" / "data" / cpu_model.TABLE_FILE
SOURCE_HEADER = ["Name", "TDP"]
SERVER_WORDS = frozenset({"xeon", "epyc"})


@dataclass(frozen=True)
class Built:
    """The table rows and what was left out, with reasons naming the source lines."""

    rows: list[tuple[str, str, float]]  # (model_key, name, tdp_w)
    rejected: list[str]  # malformed rows
    dropped: list[str]  # well-formed but unusable (no model number, ambiguous)


def _format_tdp(tdp_w: float) -> str:
    return f"{tdp_w:g}"


def build_rows(text: str, origin: str) -> Built:
    """Parse ``Name,TDP`` CSV text into table rows; never raises for a bad row."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header != SOURCE_HEADER:
        raise SystemExit(f"{origin}:1: expected header {','.join(SOURCE_HEADER)}, got {header}")
    rejected: list[str] = []
    dropped: list[str] = []
    by_key: dict[str, list[tuple[int, str, float]]] = {}
    for row in reader:
        line = reader.line_num
        if len(row) != 2:
            rejected.append(f"{origin}:{line}: rejected: expected 2 fields, got {len(row)}")
            continue
        name, tdp_text = row[0].strip(), row[1].strip()
        if not name:
            rejected.append(f"{origin}:{line}: rejected: empty name")
            continue
        try:
            tdp_w = float(tdp_text)
        except ValueError:
            rejected.append(f"{origin}:{line}: rejected: TDP {tdp_text!r} is not a number")
            continue
        if not (math.isfinite(tdp_w) and 0 < tdp_w < 2000):
            rejected.append(f"{origin}:{line}: rejected: TDP {tdp_text!r} out of range")
            continue
        key = cpu_model.normalise_cpu_name(name)
        if not cpu_model.parse_cpu_name(key).model:
            dropped.append(f"{origin}:{line}: dropped: {name!r} has no model number")
            continue
        by_key.setdefault(key, []).append((line, name, tdp_w))
    unique: dict[str, tuple[int, str, float]] = {}
    for key, items in by_key.items():
        if len({tdp for _, _, tdp in items}) > 1:
            lines = ", ".join(f"{line} ({name}: {tdp:g} W)" for line, name, tdp in items)
            dropped.append(f"{origin}: dropped: ambiguous key {key!r} on lines {lines}")
            continue
        unique[key] = items[0]
    # The same part listed with and without its vendor ("A10-7850K", "AMD A10-7850K"):
    # keep the named one when both agree, drop both when they disagree.
    by_tokens: dict[tuple[str, ...], list[str]] = {}
    for key in unique:
        by_tokens.setdefault(cpu_model.parse_cpu_name(key).tokens, []).append(key)
    for keys in by_tokens.values():
        vendorless = [k for k in keys if cpu_model.parse_cpu_name(k).vendor is None]
        if not vendorless or len(keys) == 1:
            continue
        agree = len({unique[k][2] for k in keys}) == 1
        for key in vendorless if agree else keys:
            line, name, tdp = unique.pop(key)
            why = (
                "duplicate of a vendor-named row"
                if agree
                else "disagrees with " + ", ".join(repr(k) for k in keys if k != key)
            )
            dropped.append(f"{origin}:{line}: dropped: {name!r} ({tdp:g} W) {why}")
    rows = [(key, name, tdp_w) for key, (_, name, tdp_w) in sorted(unique.items())]
    return Built(rows, rejected, dropped)


def render(rows: Sequence[tuple[str, str, float]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(cpu_model.TABLE_HEADER)
    for key, name, tdp_w in rows:
        writer.writerow([key, name, _format_tdp(tdp_w)])
    return out.getvalue()


def specpower_idle_fraction(path: Path) -> tuple[float, int]:
    """Median of active-idle / 100 %-load power over the SPECpower results, and n."""
    ratios = []
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        for row in reader:
            try:
                full = float(row["avg. watts @ 100%"])
                idle = float(row["avg. watts @ active idle"])
            except (KeyError, TypeError, ValueError):
                print(f"{path}:{reader.line_num}: skipped: no idle/full power", file=sys.stderr)
                continue
            if full > 0 and idle >= 0:
                ratios.append(idle / full)
    if not ratios:
        raise SystemExit(f"{path}: no usable SPECpower rows")
    return statistics.median(ratios), len(ratios)


def server_median_tdp(rows: Sequence[tuple[str, str, float]]) -> float:
    """Median TDP of the Xeon and EPYC parts of the table."""
    tdps = [tdp for key, _, tdp in rows if cpu_model.parse_cpu_name(key).words & SERVER_WORDS]
    return statistics.median(tdps)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--specpower", type=Path, default=DEFAULT_SPECPOWER)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    parser.add_argument("--strict", action="store_true", help="fail on any malformed row")
    args = parser.parse_args(argv)

    built = build_rows(args.source.read_text(encoding="utf-8"), str(args.source))
    for message in built.rejected:
        print(message, file=sys.stderr)
    print(
        f"{len(built.rows)} rows; {len(built.rejected)} malformed rejected; "
        f"{len(built.dropped)} dropped (no model number or ambiguous)",
        file=sys.stderr,
    )
    status = 0
    if args.strict and built.rejected:
        status = 1

    idle_fraction, n = specpower_idle_fraction(args.specpower)
    print(f"SPECpower idle fraction: median {idle_fraction:.4f} over {n} results", file=sys.stderr)
    if abs(round(idle_fraction, 3) - cpu_model.IDLE_FRACTION) > 1e-9:
        print(
            f"cpu_model.IDLE_FRACTION is {cpu_model.IDLE_FRACTION}, data say "
            f"{idle_fraction:.3f}: update it",
            file=sys.stderr,
        )
        status = 1
    default_tdp = server_median_tdp(built.rows)
    print(f"default TDP: median server TDP {default_tdp:g} W", file=sys.stderr)
    if default_tdp != cpu_model.DEFAULT_TDP_W:
        print(
            f"cpu_model.DEFAULT_TDP_W is {cpu_model.DEFAULT_TDP_W}, data say {default_tdp:g}: "
            "update it",
            file=sys.stderr,
        )
        status = 1

    text = render(built.rows)
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is out of date: run scripts/build_cpu_table.py", file=sys.stderr)
            status = 1
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
