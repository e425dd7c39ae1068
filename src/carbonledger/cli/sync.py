"""``carbonledger sync [--ledger URL]``: upload the local spools of a shared database."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from carbonledger.cli.common import add_ledger_option, settings_from_args
from carbonledger.errors import ConfigError

__all__ = ["register"]


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "sync",
        help="upload runs spooled locally while the shared database was unreachable",
        description="Upload, without duplicates, the runs trackers kept in their local spool "
        "($XDG_STATE_HOME/carbonledger/spool) while the PostgreSQL ledger could not be "
        "reached; spools in use by a running tracker are left to it.",
    )
    add_ledger_option(p)
    p.set_defaults(handler=handle_sync)


def handle_sync(args: argparse.Namespace) -> int:
    from carbonledger.store.postgres import redact_url
    from carbonledger.store.spool import is_shared_database, sync_spools

    url = settings_from_args(args).ledger_url
    shown = redact_url(url)
    if not is_shared_database(url):
        raise ConfigError(
            f"ledger {shown} is not a shared database: sync uploads spools to a "
            "postgresql:// ledger (give it with --ledger or CARBONLEDGER_LEDGER)"
        )
    report = sync_spools(url)
    print(
        f"synced {report.spools} spool(s) into {shown}: {report.runs} run(s), "
        f"{report.samples_added} sample(s) added"
        + (f"; {report.in_use} in use by running trackers" if report.in_use else "")
    )
    for problem in report.failed:
        print(f"carbonledger: error: {' '.join(problem.split())}", file=sys.stderr)
    return 3 if report.failed else 0
