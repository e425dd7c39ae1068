"""``carbonledger requests RUN [--json]``: energy per request and per token, by route."""

from __future__ import annotations

import argparse
from typing import Any

from carbonledger.cli.common import (
    add_ledger_option,
    open_ledger_for_reading,
    print_json,
    settings_from_args,
)

__all__ = ["register"]


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "requests",
        help="a server run's energy per request and per token, by route (carbonledger.serving)",
    )
    p.add_argument("run", metavar="RUN", help="run id or unique prefix")
    p.add_argument("--json", action="store_true", help="JSON instead of a table")
    add_ledger_option(p)
    p.set_defaults(handler=handle)


def _j(value: float | None) -> str:
    if value is None:
        return "—"
    if value != 0 and abs(value) < 0.01:
        return f"{value * 1000:.3g} mJ"
    return f"{value:.3g} J"


def _s(value: float | None) -> str:
    return "—" if value is None else f"{value * 1000:.3g} ms"


def _iv(interval: Any) -> str:
    return "—" if interval is None else f"[{_j(interval[0])}, {_j(interval[1])}]"


def handle(args: argparse.Namespace) -> int:
    from carbonledger.cli.summary import cell
    from carbonledger.serving.rows import SERVING_KEY, read_requests
    from carbonledger.serving.summary import summarise

    settings = settings_from_args(args)
    ledger = open_ledger_for_reading(settings)
    try:
        run = ledger.get_run(args.run)
        rows = read_requests(ledger, run.run_id)
        reader = getattr(ledger, "attachments", None)
        kept = reader(run.run_id) if callable(reader) else {}
        found = kept.get(SERVING_KEY)
        serving: dict[str, Any] = found if isinstance(found, dict) else {}
        run_energy_j = sum(s.energy_j for s in ledger.samples(run.run_id) if s.energy_j is not None)
    finally:
        ledger.close()
    routes, overall = summarise(rows, serving)
    idle_j = serving.get("idle_energy_j")
    request_j = sum(r.energy_j for r in rows if r.energy_j is not None)
    if args.json:
        print_json(
            {
                "run_id": run.run_id,
                "method": "attributed",
                "attribution": serving.get("attribution")
                or (overall.attribution if overall else None),
                "idle_energy_j": idle_j,
                "idle_s": serving.get("idle_s"),
                "idle_amortised": serving.get("idle_amortised"),
                "requests_energy_j": request_j if rows else None,
                "run_energy_j": run_energy_j,
                "open_at_stop": serving.get("open_at_stop"),
                "routes": [r.to_dict() for r in routes],
                "overall": overall.to_dict() if overall else None,
            }
        )
        return 0
    if not rows:
        print(f"run {run.run_id[:12]} has no request rows (was it tracked with RequestEnergySink?)")
        return 0
    attribution = serving.get("attribution") or (overall.attribution if overall else "?")
    amortised = "amortised over requests" if serving.get("idle_amortised") else "kept apart"
    print(
        f"run {run.run_id[:12]}: {len(rows)} requests, energy attributed by {attribution} "
        f"(method: attributed); idle {amortised}"
    )
    print(
        f"{'route':<28} {'n':>6} {'err':>4} {'J/req':>10} {'p50':>10} {'p90':>10} "
        f"{'p99':>10} {'J/token':>10} {'lat p50':>9} {'lat p99':>9}  {'J/req interval':<24}"
    )
    for r in [*routes, *([overall] if overall else [])]:
        print(
            f"{cell(r.route, 28):<28} {r.requests:>6} {r.errors:>4} "
            f"{_j(r.energy_per_request_j):>10} {_j(r.energy_p50_j):>10} "
            f"{_j(r.energy_p90_j):>10} {_j(r.energy_p99_j):>10} {_j(r.energy_per_token_j):>10} "
            f"{_s(r.latency_p50_s):>9} {_s(r.latency_p99_s):>9}  "
            f"{_iv(r.energy_per_request_interval_j):<24}"
        )
    print(
        f"requests {_j(request_j)} + idle {_j(idle_j)} "
        f"({serving.get('idle_s') or 0:.1f} s with no request in flight) "
        f"= {_j(request_j + float(idle_j or 0))}; run energy {_j(run_energy_j)}"
    )
    return 0
