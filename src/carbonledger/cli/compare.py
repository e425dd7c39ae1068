"""``carbonledger compare A B [--by name|tag]``: two groups of runs, with bootstrap intervals.

A and B are run names (globs allowed) or, with ``--by tag`` or a ``tag:`` prefix, ``K=V``
tag selectors: ``carbonledger compare tag:opt=adam tag:opt=sgd``.
"""

from __future__ import annotations

import argparse
from typing import Any

from carbonledger.cli.common import (
    add_ledger_option,
    non_negative_int,
    open_ledger_for_reading,
    print_json,
    settings_from_args,
)
from carbonledger.cli.summary import cell

__all__ = ["register"]


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "compare", help="compare two groups of runs (by name or tag) with bootstrap intervals"
    )
    p.add_argument("a", metavar="A", help="group A: a run name (glob) or tag:K=V")
    p.add_argument("b", metavar="B", help="group B: a run name (glob) or tag:K=V")
    p.add_argument("--by", choices=("name", "tag"), default="name", help="what A and B select")
    p.add_argument(
        "--resamples", type=int, default=10_000, help="bootstrap resamples (at least 200)"
    )
    p.add_argument(
        "--seed", type=non_negative_int, default=0, help="bootstrap seed >= 0 (results repeat)"
    )
    p.add_argument("--json", action="store_true", help="JSON instead of text")
    add_ledger_option(p)
    p.set_defaults(handler=handle)


def _selector(spec: str, by: str) -> tuple[str, str, str | None]:
    """(kind, key-or-pattern, value): ("name", pattern, None) or ("tag", key, value)."""
    from carbonledger.errors import ConfigError

    if spec.startswith("tag:") or by == "tag":
        body = spec[4:] if spec.startswith("tag:") else spec
        key, sep, value = body.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"group {spec!r}: a tag selector is K=V (or tag:K=V)")
        return ("tag", key.strip(), value.strip())
    return ("name", spec, None)


def handle(args: argparse.Namespace) -> int:
    from carbonledger.errors import ConfigError
    from carbonledger.report.compare import MIN_RESAMPLES, compare_groups
    from carbonledger.report.frame import load_footprints

    if args.resamples < MIN_RESAMPLES:
        raise ConfigError(
            f"--resamples must be at least {MIN_RESAMPLES} for a 95 % interval, "
            f"got {args.resamples}"
        )
    selectors = [_selector(args.a, args.by), _selector(args.b, args.by)]
    settings = settings_from_args(args)
    ledger = open_ledger_for_reading(settings)
    groups = []
    skipped: list[dict[str, str]] = []
    try:
        for spec, (kind, key, value) in zip((args.a, args.b), selectors, strict=True):
            if kind == "tag":
                loaded = load_footprints(ledger, tags={key: value or ""})
            else:
                loaded = load_footprints(ledger, name=key)
            if not loaded.footprints:
                raise ConfigError(f"no runs match {spec!r} in {settings.ledger_url}")
            groups.append(loaded.footprints)
            skipped += loaded.skipped
    finally:
        ledger.close()
    results = compare_groups(groups[0], groups[1], resamples=args.resamples, seed=args.seed)
    if args.json:
        print_json(
            {
                "a": {"selector": args.a, "runs": [fp.run_id for fp in groups[0]]},
                "b": {"selector": args.b, "runs": [fp.run_id for fp in groups[1]]},
                "resamples": args.resamples,
                "seed": args.seed,
                "comparisons": [r.to_dict() for r in results],
                "skipped": skipped,
            }
        )
        return 0
    print(
        f"A = {cell(args.a, 40)} ({len(groups[0])} runs), B = {cell(args.b, 40)} "
        f"({len(groups[1])} runs); B − A, 95 % bootstrap interval ({args.resamples} resamples)"
    )
    for r in results:
        print(f"  {cell(r.verdict, 200)}")
    for s in skipped:
        print(f"left out {cell(s['run_id'], 12)} ({cell(s['name'], 30)}): {s['error']}")
    return 0
