"""``carbonledger leaderboard --objective NAME:max|min ...``: runs ranked, Pareto front marked."""

from __future__ import annotations

import argparse
from typing import Any

from carbonledger.cli.common import (
    add_ledger_option,
    open_ledger_for_reading,
    print_json,
    settings_from_args,
    write_output,
)
from carbonledger.cli.summary import cell

__all__ = ["register"]


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "leaderboard", help="rank runs on objectives and mark the Pareto front"
    )
    p.add_argument(
        "--objective",
        action="append",
        required=True,
        metavar="NAME:max|min",
        help="a metric or footprint field (total_kgco2e, energy_kwh, duration_s) and whether "
        "more or less is better; repeat for several",
    )
    p.add_argument("--name", metavar="PATTERN", help="only runs whose name matches this glob")
    p.add_argument("--tag", action="append", default=[], metavar="K=V", help="only runs tagged so")
    p.add_argument("--format", choices=("text", "json", "html"), default="text")
    p.add_argument("--json", action="store_true", help="same as --format json")
    p.add_argument("-o", "--output", metavar="PATH", help="write here instead of stdout")
    add_ledger_option(p)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from carbonledger.report.frame import load_footprints, parse_tag_filters
    from carbonledger.report.pareto import leaderboard, parse_objectives

    objectives = parse_objectives(args.objective)
    tags = parse_tag_filters(args.tag)
    fmt = "json" if args.json else args.format
    settings = settings_from_args(args)
    ledger = open_ledger_for_reading(settings)
    try:
        loaded = load_footprints(ledger, name=args.name, tags=tags)
    finally:
        ledger.close()
    rows = leaderboard([fp.to_dict() for fp in loaded.footprints], objectives)
    if fmt == "json":
        data = {
            "objectives": [{"name": o.name, "sense": o.sense} for o in objectives],
            "rows": rows,
            "skipped": loaded.skipped,
        }
        if args.output:
            import json

            write_output(json.dumps(data, indent=2, allow_nan=False), args.output)
        else:
            print_json(data)
        return 0
    if fmt == "html":
        from carbonledger.report.html import render_leaderboard

        pairs = [(o.name, o.sense) for o in objectives]
        write_output(render_leaderboard(rows, pairs, skipped=loaded.skipped), args.output)
        return 0
    write_output(_text(rows, [o.name for o in objectives], loaded.skipped), args.output)
    return 0


def _number(value: Any) -> str:
    if value is None:
        return "—"
    return f"{value:.4g}"


def _text(rows: list[dict[str, Any]], names: list[str], skipped: list[dict[str, str]]) -> str:
    if not rows:
        return "no runs match"
    widths = [max(10, min(len(n), 16)) for n in names]
    head = f"{'#':>3} {'run':<12} {'name':<24} " + " ".join(
        f"{cell(n, w):>{w}}" for n, w in zip(names, widths, strict=True)
    )
    lines = [head + f" {'pareto':<7} dominated by"]
    for i, row in enumerate(rows, 1):
        pareto = {True: "yes", False: "no", None: "—"}[row["pareto"]]
        values = " ".join(
            f"{_number(row['objectives'][n]):>{w}}" for n, w in zip(names, widths, strict=True)
        )
        beaten = ", ".join(cell(r, 12) for r in row["dominated_by"][:3])
        if len(row["dominated_by"]) > 3:
            beaten += f" (+{len(row['dominated_by']) - 3})"
        if row.get("dominated_within_uncertainty"):
            pareto = "no~"
            beaten = "dominated (within uncertainty): " + beaten
        if row.get("missing"):
            beaten = "missing " + ", ".join(row["missing"])
        lines.append(
            f"{i:>3} {cell(row['run_id'] or '', 12):<12} {cell(row['name'] or '', 24):<24} "
            f"{values} {pareto:<7} {cell(beaten, 60)}"
        )
    for s in skipped:
        lines.append(f"left out {cell(s['run_id'], 12)} ({cell(s['name'], 30)}): {s['error']}")
    return "\n".join(lines)
