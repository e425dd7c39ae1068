"""``carbonledger simulate``: back-test carbon-aware scheduling on an intensity history.

    carbonledger simulate --series DE-LU_2023_hourly.csv --duration 6h --extra 24h --json

A job of ``--duration`` starts at every step of the series (whose whole window lies in it)
and may finish up to ``--extra`` later (``24h``, or ``100%`` of the duration); the savings
of flexible start and of pause and resume against starting at once are summarised.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from carbonledger.cli.common import print_json

__all__ = ["ProgressBar", "register"]


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "simulate",
        help="back-test flexible start and pause/resume on an intensity history",
        description="Simulate a job started at every step of an intensity series, allowed "
        "to finish up to --extra later (Dodge et al. 2022), for both carbon-aware policies.",
    )
    p.add_argument("--series", required=True, metavar="FILE", help="intensity CSV")
    p.add_argument("--zone", metavar="ZONE", help="zone of a plain CSV (default: file stem)")
    p.add_argument("--duration", required=True, metavar="D", help="job length: 6h, 90m")
    p.add_argument("--extra", required=True, metavar="E", help="extra time allowed: 24h, or 100%%")
    p.add_argument("--basis", choices=("lifecycle", "direct"), default="lifecycle")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=handle)


class ProgressBar:
    """A one-line progress bar on a terminal; silent when ``stream`` is not a terminal."""

    def __init__(self, stream: TextIO, label: str, width: int = 30) -> None:
        self.stream = stream
        self.label = label
        self.width = width
        self.enabled = bool(getattr(stream, "isatty", lambda: False)())

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        filled = round(self.width * done / total)
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r{self.label} [{bar}] {done}/{total}")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


def handle(args: argparse.Namespace) -> int:
    from carbonledger.intensity.series_csv import load_series
    from carbonledger.schedule.simulate import simulate
    from carbonledger.schedule.timeparse import parse_duration, parse_extra

    duration_s = parse_duration(args.duration, what="--duration")
    extra_s = parse_extra(args.extra, duration_s, what="--extra")
    series = load_series(args.series, basis=args.basis, zone=args.zone)
    progress = ProgressBar(sys.stderr, f"simulating {series.zone}")
    result = simulate(series, duration_s=duration_s, extra_s=extra_s, progress=progress)
    if args.json:
        print_json(result.to_dict())
    else:
        print(_text(result))
    return 0


def _text(result: Any) -> str:
    from carbonledger.schedule.timeparse import format_duration, format_time

    lines = [
        f"{result.zone} ({result.basis}): {result.n_jobs} jobs of "
        f"{format_duration(result.duration_s)}, each allowed "
        f"{format_duration(result.extra_s)} extra, starting "
        f"{format_time(result.start_times[0])} … {format_time(result.start_times[-1])}",
        f"{'policy':<16}{'mean':>8}{'p5':>8}{'p25':>8}{'p50':>8}{'p75':>8}{'p95':>8}"
        f"{'max':>8}   savings % against starting at once",
    ]
    for name, stats in (
        ("flexible start", result.flexible_start),
        ("pause & resume", result.pause_resume),
    ):
        cells = [stats.mean_savings_pct, *stats.percentiles_pct, stats.max_pct]
        lines.append(f"{name:<16}" + "".join(f"{c:8.1f}" for c in cells))
    return "\n".join(lines)
