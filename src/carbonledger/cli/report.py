"""``carbonledger report RUN... --format FORMAT [-o PATH]``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from carbonledger.cli.common import (
    add_ledger_option,
    open_ledger_for_reading,
    settings_from_args,
    write_output,
)
from carbonledger.errors import ConfigError
from carbonledger.report.base import FORMATS

__all__ = ["register"]


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "report", help="render runs as text, JSON, CSV, HTML, ..."
    )
    p.add_argument("runs", nargs="+", metavar="RUN", help="run ids or unique prefixes")
    p.add_argument(
        "--format",
        metavar="FORMAT",
        help=f"output format: {', '.join(FORMATS)}, or a plug-in's "
        "(default: from the -o file's suffix, else text)",
    )
    p.add_argument("-o", "--output", metavar="PATH", help="write here instead of stdout")
    p.add_argument("--samples", action="store_true", help="CSV: one row per sample")
    p.add_argument(
        "--intensity-series", metavar="FILE", help="re-price with this intensity series (CSV)"
    )
    p.add_argument(
        "--basis",
        choices=("lifecycle", "direct"),
        default="lifecycle",
        help="which intensity column of a data-portal CSV to use",
    )
    add_ledger_option(p)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from carbonledger.cli.main import EXIT_USAGE
    from carbonledger.lifecycle.pricing import footprint_for_run, stored_series
    from carbonledger.report.base import ReportInput, format_for_path, get_renderer

    format_name = args.format or format_for_path(args.output) or "text"
    try:
        renderer = get_renderer(format_name)
    except ConfigError as exc:
        print(f"carbonledger report: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    settings = settings_from_args(args)
    series = None
    if args.intensity_series:
        from pathlib import Path

        from carbonledger.intensity.series import label_user_series
        from carbonledger.intensity.series_csv import load_series

        series = label_user_series(load_series(Path(args.intensity_series), basis=args.basis))
    ledger = open_ledger_for_reading(settings)
    try:
        runs = [ledger.get_run(r) for r in args.runs]
        footprints = [footprint_for_run(ledger, r.run_id, series=series) for r in runs]
        data = ReportInput(
            footprints=footprints,
            runs=runs,
            devices={r.run_id: ledger.devices(r.run_id) for r in runs},
            samples=_samples(ledger, runs, format_name, full=args.samples),
            spans={r.run_id: ledger.spans(r.run_id) for r in runs},
            series=series if series is not None or len(runs) != 1 else stored_series(runs[0]),
            include_samples=args.samples,
            attachments={r.run_id: _attachments(ledger, r.run_id) for r in runs},
        )
    finally:
        ledger.close()
    write_output(renderer(data), args.output)
    return 0


def _attachments(ledger: Any, run_id: str) -> dict[str, Any]:
    """What the ledger keeps beside the run (an environment audit, ...); none if it cannot."""
    get = getattr(ledger, "attachments", None)
    return dict(get(run_id)) if callable(get) else {}


_TOTALS_ONLY = ("text", "json", "markdown", "md", "statement", "csv")
"""Built-in formats that read no samples (plug-in formats still get every sample)."""


def _samples(ledger: Any, runs: list[Any], format_name: str, *, full: bool) -> dict[str, Any]:
    """What the renderer draws or lists: every sample for ``--samples`` (CSV), a bounded
    number per device for charts (HTML), none for built-in formats that print totals."""
    if full:
        return {r.run_id: ledger.samples(r.run_id) for r in runs}
    if format_name in _TOTALS_ONLY:
        return {}
    from carbonledger.store.aggregates import downsampled

    return {r.run_id: downsampled(ledger, r.run_id) for r in runs}
