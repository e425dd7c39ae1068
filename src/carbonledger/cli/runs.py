"""``carbonledger runs [--json]`` and ``carbonledger show RUN [--json]``."""

from __future__ import annotations

import argparse
from typing import Any

from carbonledger.cli.common import (
    add_ledger_option,
    open_ledger_for_reading,
    print_json,
    settings_from_args,
)
from carbonledger.cli.summary import cell
from carbonledger.errors import CarbonLedgerError
from carbonledger.safetext import term

__all__ = ["register"]


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser("runs", help="list the runs in the ledger")
    p.add_argument("--json", action="store_true", help="a JSON list of runs")
    p.add_argument("--limit", type=_count, default=None, help="newest N runs only")
    p.add_argument("--job", metavar="KEY", help="only the runs (ranks) of this distributed job")
    add_ledger_option(p)
    p.set_defaults(handler=handle_runs)

    s: argparse.ArgumentParser = subparsers.add_parser("show", help="show one run's footprint")
    s.add_argument("run", metavar="RUN", help="run id or a unique prefix")
    s.add_argument("--json", action="store_true", help="the footprint JSON")
    add_ledger_option(s)
    s.set_defaults(handler=handle_show)


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def handle_runs(args: argparse.Namespace) -> int:
    from carbonledger.lifecycle.pricing import footprint_for_run, iso_utc
    from carbonledger.report.text import format_energy_kwh, format_mass_kg

    settings = settings_from_args(args)
    ledger = open_ledger_for_reading(settings)
    try:
        runs = ledger.list_runs()
        if getattr(args, "job", None):
            runs = [r for r in runs if r.job is not None and r.job.key == args.job]
        if args.limit is not None:
            runs = runs[: args.limit]
        rows: list[dict[str, Any]] = []
        for run in runs:
            row: dict[str, Any] = {
                "run_id": run.run_id,
                "name": run.name,
                "phase": run.phase,
                "status": str(run.status),
                "started_at": iso_utc(run.started_at),
                "ended_at": iso_utc(run.ended_at),
                "duration_s": run.duration_s,
                "zone": run.zone,
                "energy_kwh": None,
                "total_kgco2e": None,
                "tags": dict(run.tags),
                "job": None if run.job is None else run.job.to_dict(),
            }
            try:
                fp = footprint_for_run(ledger, run.run_id)
                row.update(energy_kwh=fp.energy_kwh, total_kgco2e=fp.total_kgco2e)
                row["duration_s"] = fp.duration_s
            except CarbonLedgerError as exc:  # one run that cannot be priced hides no other
                row["error"] = str(exc)
            rows.append(row)
    finally:
        ledger.close()
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print(f"no runs to show in {settings.ledger_url}")
        return 0
    print(
        f"{'run':<12}  {'name':<24} {'phase':<15} {'status':<11} {'started (UTC)':<20} "
        f"{'energy':>12} {'carbon':>14}"
    )
    for r in rows:
        started = (r["started_at"] or "")[:19].replace("T", " ")
        print(
            f"{r['run_id'][:12]:<12}  {cell(r['name'], 24):<24} {cell(r['phase'], 15):<15} "
            f"{r['status']:<11} "
            f"{started:<20} {format_energy_kwh(r['energy_kwh']):>12} "
            f"{format_mass_kg(r['total_kgco2e']):>14}"
        )
    for r in rows:
        if "error" in r:
            print(term(f"note: run {r['run_id'][:12]} cannot be priced: {r['error']}"))
    return 0


def handle_show(args: argparse.Namespace) -> int:
    from carbonledger.lifecycle.pricing import footprint_for_run
    from carbonledger.report.text import summary

    settings = settings_from_args(args)
    ledger = open_ledger_for_reading(settings)
    try:
        fp = footprint_for_run(ledger, args.run)
        env_audit = _env_audit(ledger, fp.run_id)
    finally:
        ledger.close()
    if args.json:
        data = fp.to_dict()
        if env_audit is not None:
            data["env_audit"] = env_audit
        print_json(data)
    else:
        print(summary(fp))
        if env_audit is not None:
            from carbonledger.envaudit.model import EnvAudit
            from carbonledger.envaudit.render import render_text

            try:
                print("\n" + render_text(EnvAudit.from_dict(env_audit)))
            except CarbonLedgerError as exc:
                print(f"\nEnvironment audit unreadable: {exc}")
    return 0


def _env_audit(ledger: Any, run_id: str | None) -> dict[str, Any] | None:
    """The run's stored environment audit (``--audit-env``), if any; no import otherwise."""
    if run_id is None or not callable(getattr(ledger, "attachments", None)):
        return None
    data = ledger.attachments(run_id).get("env_audit")
    return dict(data) if isinstance(data, dict) else None
