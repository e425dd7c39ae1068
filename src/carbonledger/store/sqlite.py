"""The SQLite ledger: one file, many writers, every write one committed transaction.

Standard library ``sqlite3`` only. The file runs in WAL mode with ``synchronous=NORMAL``:
a committed write survives the writing process being killed (``kill -9``); a power loss
or OS crash may lose the last few commits (sqlite.org/pragma.html#pragma_synchronous).
Writers take the write lock up front (``BEGIN IMMEDIATE``) and retry ``SQLITE_BUSY`` with
jittered exponential back-off for up to ``retry_s`` seconds, on top of SQLite's own busy
timeout, so many processes can write one ledger at once.

A ``RUNNING`` run whose tracker is gone reads as ``INTERRUPTED`` (see :func:`tracker_gone`);
the ledger writes that conclusion back so every later read agrees.

Damage is detected and said once: sqlite3's "malformed" errors become "ledger PATH is
damaged", a current ledger missing one of its tables is refused on open, and
``verify=True`` (what reading commands use) also runs ``PRAGMA quick_check``; a sequence
of table names checks only those (a command that reads only those tables).

The ledger is put together from parts with one job each: the connection and its retries
(``sqlite_conn``), writes (``sqlite_writes``), reads (``sqlite_reads``), sums over
samples (``sqlite_aggregates``), many runs' facts at once (``sqlite_facts``) and a server
run's requests (``sqlite_requests``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from carbonledger.errors import LedgerError
from carbonledger.store.liveness import DEFAULT_STALE_AFTER_S, tracker_gone
from carbonledger.store.sqlite_aggregates import EnergyTotal, SqlAggregates
from carbonledger.store.sqlite_conn import DEFAULT_BUSY_TIMEOUT_S, DEFAULT_RETRY_S
from carbonledger.store.sqlite_facts import SqlFacts
from carbonledger.store.sqlite_requests import SqlRequests
from carbonledger.store.sqlite_rows import (
    as_object as _as_object,
)
from carbonledger.store.sqlite_rows import (
    series_from_json,
)
from carbonledger.store.sqlite_rows import (
    stored_functional_unit as _functional_unit,
)
from carbonledger.store.sqlite_writes import SqlWrites

__all__ = [
    "DEFAULT_BUSY_TIMEOUT_S",
    "DEFAULT_RETRY_S",
    "DEFAULT_STALE_AFTER_S",
    "EnergyTotal",
    "SqliteLedger",
    "open_sqlite",
    "open_sqlite_url",
    "series_from_json",
    "tracker_gone",
]

_COMPATIBLE = (_as_object, _functional_unit)  # older imports of these names keep working


class SqliteLedger(SqlAggregates, SqlFacts, SqlWrites, SqlRequests):
    """A :class:`~carbonledger.store.base.Ledger` in one SQLite file.

    One connection per object, guarded by a lock: safe to share between threads, not
    across ``fork`` (open a new one in the child). Every sqlite3 error is raised as
    :class:`~carbonledger.errors.LedgerError` naming the file.
    """

    def __enter__(self) -> SqliteLedger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SqliteLedger({str(self.path)!r})"


def open_sqlite(
    path: str | os.PathLike[str],
    *,
    stale_after_s: float = DEFAULT_STALE_AFTER_S,
    busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
    retry_s: float = DEFAULT_RETRY_S,
    verify: bool | Sequence[str] = False,
) -> SqliteLedger:
    """Open (creating it and its parent folders if needed) the ledger at ``path``."""
    path = Path(path).expanduser()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LedgerError(f"cannot create the folder for ledger {path}: {exc}") from exc
    return SqliteLedger(
        path,
        stale_after_s=stale_after_s,
        busy_timeout_s=busy_timeout_s,
        retry_s=retry_s,
        verify=verify,
    )


def open_sqlite_url(url: str, **options: Any) -> SqliteLedger:
    """The registry's factory for ``sqlite:`` URLs (options as :func:`open_sqlite`)."""
    from carbonledger.store.registry import sqlite_path_from_url

    return open_sqlite(sqlite_path_from_url(url), **options)
