"""``carbonledger runs [--json]`` and ``carbonledger show RUN [--json]``."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Iterator
from json.encoder import encode_basestring_ascii
from typing import Any

from carbonledger.cli.common import (
    add_ledger_option,
    non_negative_int,
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
    p.add_argument("--limit", type=non_negative_int, default=None, help="newest N runs only")
    p.add_argument("--job", metavar="KEY", help="only the runs (ranks) of this distributed job")
    p.add_argument(
        "--offset",
        type=non_negative_int,
        default=0,
        help="skip the newest N runs first (with --limit: pages)",
    )
    add_ledger_option(p)
    p.set_defaults(handler=handle_runs)

    s: argparse.ArgumentParser = subparsers.add_parser("show", help="show one run's footprint")
    s.add_argument("run", metavar="RUN", help="run id or a unique prefix")
    s.add_argument("--json", action="store_true", help="the footprint JSON")
    add_ledger_option(s)
    s.set_defaults(handler=handle_show)


def handle_runs(args: argparse.Namespace) -> int:
    from carbonledger.report.frame import price_runs

    settings = settings_from_args(args)
    ledger = open_ledger_for_reading(settings)
    try:
        everything = ledger.list_runs()
        if getattr(args, "job", None):
            everything = [r for r in everything if r.job is not None and r.job.key == args.job]
        end = None if args.limit is None else args.offset + args.limit
        page = everything[args.offset : end]
        priced = price_runs(ledger, page, everything=everything)
        rows = (_row(run, fp, error) for run, fp, error in priced)
        if args.json:
            _stream_json(rows)
        else:  # a job column only when a listed run is a rank of a job
            _print_table(rows, settings.ledger_url, jobs=any(r.job is not None for r in page))
    finally:
        ledger.close()
    return 0


def _row(run: Any, fp: Any, error: CarbonLedgerError | None) -> dict[str, Any]:
    from carbonledger.lifecycle.pricing import iso_utc

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
    if fp is not None:
        row.update(energy_kwh=fp.energy_kwh, total_kgco2e=fp.total_kgco2e)
        row["duration_s"] = fp.duration_s
    else:  # one run that cannot be priced hides no other
        row["error"] = str(error)
    return row


def _stream_json(rows: Iterator[dict[str, Any]]) -> None:
    """The JSON list ``print_json`` would write, one run at a time (the listing is never
    held whole in memory)."""
    out = sys.stdout
    first = True
    for row in rows:
        out.write("[\n" if first else ",\n")
        out.write("  " + _indented(row, "  "))
        first = False
    out.write("[]\n" if first else "\n]\n")


def _float(value: float) -> str:
    return float.__repr__(value) if math.isfinite(value) else "null"


_SCALARS: dict[type, Callable[[Any], str]] = {
    str: encode_basestring_ascii,
    int: int.__repr__,
    float: _float,
    bool: lambda value: "true" if value else "false",
    type(None): lambda value: "null",
}
"""JSON text of a scalar, as ``json.dumps`` writes it (non-finite numbers as null)."""


def _indented(value: Any, indent: str) -> str:
    """``value`` as ``json.dumps(finite(value), indent=2)`` writes it, every line after
    the first indented by ``indent`` more: scalars encoded by the json module's own C
    functions, so a row costs a few microseconds instead of the pure-Python encoder's."""
    scalar = _SCALARS.get(type(value))
    if scalar is not None:
        return scalar(value)
    inner = indent + "  "
    if type(value) is dict and all(type(k) is str for k in value):
        if not value:
            return "{}"
        items = []
        for k, v in value.items():
            text = _SCALARS.get(type(v))
            shown = text(v) if text is not None else _indented(v, inner)
            items.append(f"{inner}{encode_basestring_ascii(k)}: {shown}")
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if type(value) in (list, tuple):
        if not value:
            return "[]"
        return "[\n" + ",\n".join(inner + _indented(v, inner) for v in value) + "\n" + indent + "]"
    from carbonledger.jsonutil import dumps  # anything else: the general encoder

    return ("\n" + indent).join(dumps(value).split("\n"))


def _job_cell(job: dict[str, Any] | None) -> str:
    """``KEY rN`` (rank N; ``lN`` local rank when the global one is unknown), ``/tN``
    after a restart; ``-`` for a run of no job."""
    if job is None:
        return "-"
    rank = job.get("rank")
    local = job.get("local_rank")
    where = f"r{rank}" if rank is not None else (f"l{local}" if local is not None else "r?")
    restart = job.get("restart") or 0
    tail = f" {where}" + (f"/t{restart}" if restart else "")
    return cell(job.get("key"), JOB_WIDTH - len(tail)) + tail


JOB_WIDTH = 24


def _print_table(rows: Iterator[dict[str, Any]], where: str, *, jobs: bool = False) -> None:
    from carbonledger.report.text import format_energy_kwh, format_mass_kg

    errors: list[dict[str, Any]] = []
    header = False
    for r in rows:
        if not header:
            print(
                f"{'run':<12}  {'name':<24} {'phase':<15} {'status':<11} "
                f"{'started (UTC)':<20} {'energy':>12} {'carbon':>14}" + ("  job" if jobs else "")
            )
            header = True
        started = (r["started_at"] or "")[:19].replace("T", " ")
        print(
            f"{r['run_id'][:12]:<12}  {cell(r['name'], 24):<24} {cell(r['phase'], 15):<15} "
            f"{r['status']:<11} "
            f"{started:<20} {format_energy_kwh(r['energy_kwh']):>12} "
            f"{format_mass_kg(r['total_kgco2e']):>14}"
            + (f"  {_job_cell(r['job'])}" if jobs else "")
        )
        if "error" in r:
            errors.append(r)
    if not header:
        print(f"no runs to show in {where}")
    for r in errors:
        print(term(f"note: run {r['run_id'][:12]} cannot be priced: {r['error']}"))


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
