"""``carbonledger summary [--by phase|name|tag:K|day|job]``: totals across runs (by job:
one footprint per job, as ``carbonledger job KEY`` gives it)."""

from __future__ import annotations

import argparse
from typing import Any

from carbonledger.cli.common import (
    add_ledger_option,
    open_ledger_for_reading,
    print_json,
    settings_from_args,
)
from carbonledger.safetext import term

__all__ = ["cell", "register"]


def cell(text: Any, width: int) -> str:
    """User text for a terminal table: control characters escaped visibly (``\\x1b``, see
    :func:`carbonledger.safetext.term`), cut to ``width``."""
    shown = term(text)
    return shown if len(shown) <= width else shown[: width - 1] + "…"


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "summary", help="totals across runs, grouped by phase, name, a tag or day"
    )
    p.add_argument(
        "--by",
        default="phase",
        metavar="phase|name|tag:KEY|day|job",
        help="how to group the runs (default phase; day is the UTC day a run started; "
        "job: each job's row is its one footprint, as `carbonledger job KEY` gives it)",
    )
    p.add_argument("--name", metavar="PATTERN", help="only runs whose name matches this glob")
    p.add_argument("--tag", action="append", default=[], metavar="K=V", help="only runs tagged so")
    p.add_argument("--json", action="store_true", help="JSON instead of a table")
    add_ledger_option(p)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from carbonledger.report.frame import parse_tag_filters
    from carbonledger.report.numbers import format_mass_interval
    from carbonledger.report.summary import parse_group_by, summarize_ledger
    from carbonledger.report.text import format_energy_kwh, format_mass_kg

    parse_group_by(args.by)
    tags = parse_tag_filters(args.tag)
    settings = settings_from_args(args)
    ledger = open_ledger_for_reading(settings)
    skipped: list[dict[str, str]] = []
    try:  # footprints stream through; only what the sums need is kept
        rows, overall = summarize_ledger(
            ledger, args.by, name=args.name, tags=tags, skipped=skipped
        )
    finally:
        ledger.close()
    if args.json:
        print_json(
            {
                "by": args.by,
                "groups": [r.to_dict() for r in rows],
                "total": overall.to_dict(),
                "skipped": skipped,
            }
        )
        return 0
    if not rows:
        print(f"no runs in {settings.ledger_url}")
        return 0
    print(
        f"{cell(args.by, 20):<20} {'runs':>5} {'energy':>13} {'operational':>14} "
        f"{'embodied':>14} {'total':>14}  {'total interval':<24}"
    )
    for row in [*rows, overall]:
        name = "TOTAL" if row is overall else ("(none)" if row.group is None else row.group)
        t = row.totals
        print(
            f"{cell(name, 20):<20} {row.runs:>5} {format_energy_kwh(t['energy_kwh']):>13} "
            f"{format_mass_kg(t['operational_kgco2e']):>14} "
            f"{format_mass_kg(t['embodied_kgco2e']):>14} {format_mass_kg(t['total_kgco2e']):>14}"
            f"  {format_mass_interval(row.intervals.get('total_kgco2e')) or 'unknown':<24}"
        )
    gaps = {k: v for k, v in overall.missing.items() if v}
    if gaps:
        listed = ", ".join(f"{k}: {v} run(s)" for k, v in gaps.items())
        print(f"missing values (left out of the sums, not counted as 0): {listed}")
    if any(r.method == "job" for r in rows):
        print(
            "a job's row is its one footprint, as `carbonledger job KEY` gives it: each "
            "node's devices counted once, unmeasured stretches modelled, nodes' intervals "
            "in quadrature"
        )
    for row in rows:
        for note in row.warnings[:NOTES_PER_ROW]:
            print(f"note: {cell(row.group, 30)}: {cell(note, 200)}")
        if len(row.warnings) > NOTES_PER_ROW:
            more = len(row.warnings) - NOTES_PER_ROW
            print(
                f"note: {cell(row.group, 30)}: {more} more (all in --json; "
                f"`carbonledger job {cell(row.group, 30)}` for the job)"
            )
    for s in skipped:
        print(f"left out {cell(s['run_id'], 12)} ({cell(s['name'], 30)}): {cell(s['error'], 80)}")
    return 0


NOTES_PER_ROW = 3
"""A row's warnings shown in the table's notes; the rest are counted (all are in --json)."""
