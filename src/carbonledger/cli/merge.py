"""``carbonledger merge LEDGER... --into URL``: per-node ledgers into one, never a device twice.

Rules (docs/guides/shared-ledger.md):

* a run id found in several sources, or already in the target, is merged once; if its
  records differ (start, host, or a sample of the same device and interval with other
  energies) nothing is merged and the run is named;
* two runs with different ids from different ledgers (sources, or a target run that came
  from another ledger) on the same host (``machine_id``, else hostname) that hold a
  common device and overlap in time are refused, naming both: their sum would count the
  device twice.

Checks run before anything is written; merging again adds only what is new. A source
file that does not exist (or a pattern the shell left unmatched) is refused, exit 3.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from carbonledger.errors import LedgerError
from carbonledger.records import RunRecord

__all__ = ["MergeConflictError", "register"]

PROVENANCE_KEY = "merged_from"


class MergeConflictError(LedgerError):
    """Merging would count a run or a device twice."""


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "merge",
        help="merge per-node ledgers into one (refusing to count a device twice)",
        description="Merge ledgers (per-node SQLite files, or any ledger URL) into one "
        "ledger, SQLite or PostgreSQL. Idempotent: merging again adds only what is new. "
        "Refuses (exit 3, nothing written) when the same run differs between ledgers, or "
        "two ledgers hold overlapping runs of the same host and device.",
    )
    p.add_argument("sources", nargs="+", metavar="LEDGER", help="ledger paths or URLs")
    p.add_argument("--into", required=True, metavar="URL", help="the ledger to merge into")
    p.set_defaults(handler=handle_merge)


@dataclass(frozen=True)
class _Entry:
    source: int
    run: RunRecord
    devices: frozenset[str]


def _host(run: RunRecord) -> str | None:
    key = run.host.get("machine_id") or run.host.get("hostname")
    return str(key) if key else None


def _overlap(a: RunRecord, b: RunRecord, now: float) -> bool:
    a_end = a.ended_at if a.ended_at is not None else now
    b_end = b.ended_at if b.ended_at is not None else now
    return a.started_at < b_end and b.started_at < a_end


def _name(target: str) -> str:
    from carbonledger.store.postgres import redact_url
    from carbonledger.store.registry import local_path

    path = local_path(target)
    return str(path.resolve()) if path is not None else redact_url(target)


def handle_merge(args: argparse.Namespace) -> int:
    import time

    from carbonledger.cli.common import require_existing_ledger
    from carbonledger.store.registry import open_ledger
    from carbonledger.store.transfer import copy_run, sample_key

    for source in args.sources:  # opening creates: a typo would merge an empty ledger
        require_existing_ledger(source)
    names = [_name(s) for s in args.sources]
    into = _name(args.into)
    if len(set(names)) != len(names):
        raise MergeConflictError("a ledger is given twice; give each once")
    if into in names:
        raise MergeConflictError(f"ledger {into} is both a source and the target")
    sources = [open_ledger(s, verify=True) for s in args.sources]
    target = open_ledger(args.into)
    try:
        entries = [
            _Entry(i, run, frozenset(d.device_id for d in led.devices(run.run_id)))
            for i, led in enumerate(sources)
            for run in led.list_runs()
        ]
        now = time.time()
        # 1. a run id in several sources: the same record and samples, else refuse
        first: dict[str, _Entry] = {}
        for e in entries:
            seen = first.setdefault(e.run.run_id, e)
            if seen is e:
                continue
            a = {sample_key(s): s for s in sources[seen.source].samples(e.run.run_id)}
            b = {sample_key(s): s for s in sources[e.source].samples(e.run.run_id)}
            if seen.run.started_at != e.run.started_at or a != b:
                raise MergeConflictError(
                    f"run {e.run.run_id} is in {names[seen.source]} and {names[e.source]} "
                    "with different records or samples; refusing to count it twice"
                )
        unique = list(first.values())
        # 2. different runs of one host and device overlapping, from different ledgers
        origin = _target_origins(target, into)
        known = [(origin.get(r.run_id, into), r, d) for r, d in _target_runs(target)]
        pool = [(names[e.source], e.run, e.devices) for e in unique] + known
        for i, (src_a, run_a, dev_a) in enumerate(pool):
            for src_b, run_b, dev_b in pool[i + 1 :]:
                if (
                    src_a != src_b
                    and run_a.run_id != run_b.run_id
                    and _host(run_a) is not None
                    and _host(run_a) == _host(run_b)
                    and dev_a & dev_b
                    and _overlap(run_a, run_b, now)
                ):
                    device = sorted(dev_a & dev_b)[0]
                    raise MergeConflictError(
                        f"run {run_a.run_id} ({src_a}) and run {run_b.run_id} ({src_b}) both "
                        f"measured {device} on host {_host(run_a)} at the same time; "
                        "merging both would count it twice"
                    )
        created = added = 0
        for e in unique:
            result = copy_run(sources[e.source], target, e.run.run_id, where=names[e.source])
            if result.created:
                created += 1
                target.put_attachment(e.run.run_id, PROVENANCE_KEY, {"ledger": names[e.source]})
            added += result.samples_added
        print(
            f"merged {len(unique)} run(s) from {len(sources)} ledger(s) into {into}: "
            f"{created} new, {added} sample(s) added"
        )
        return 0
    finally:
        for led in sources:
            led.close()
        target.close()


def _target_runs(target: Any) -> list[tuple[RunRecord, frozenset[str]]]:
    return [
        (run, frozenset(d.device_id for d in target.devices(run.run_id)))
        for run in target.list_runs()
    ]


def _target_origins(target: Any, into: str) -> dict[str, str]:
    """Run id -> the ledger it was merged from (runs written directly: the target)."""
    found: dict[str, str] = {}
    for run in target.list_runs():
        data = target.attachments(run.run_id).get(PROVENANCE_KEY)
        if isinstance(data, dict) and isinstance(data.get("ledger"), str):
            found[run.run_id] = data["ledger"]
        else:
            found[run.run_id] = into
    return found
