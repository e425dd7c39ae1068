"""The ledger backends every contract test runs against: SQLite, memory and PostgreSQL
(a throwaway server, see pgserver.py: skipped without one locally, failed in CI)."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.store.pgserver import fresh_schema_url, shared_server

from carbonledger.store import MemoryLedger, SqliteLedger, open_ledger
from carbonledger.store.base import Ledger
from carbonledger.testing import LedgerBackend


def tamper_sqlite(ledger: Ledger, run_id: str, column: str, value: Any) -> None:
    assert isinstance(ledger, SqliteLedger)
    conn = sqlite3.connect(ledger.path, isolation_level=None)
    try:
        conn.execute("PRAGMA ignore_check_constraints = ON")
        if column == "samples.energy_j":
            conn.execute("UPDATE samples SET energy_j = ? WHERE run_id = ?", (value, run_id))
        else:
            conn.execute(f"UPDATE runs SET {column} = ? WHERE run_id = ?", (value, run_id))
    finally:
        conn.close()


def tamper_memory(ledger: Ledger, run_id: str, column: str, value: Any) -> None:
    assert isinstance(ledger, MemoryLedger)
    store = ledger._store
    if column == "samples.energy_j":
        store.samples[run_id] = [(*row[:4], value) for row in store.samples[run_id]]
    else:
        store.runs[run_id][column] = value


def _sqlite_backend(tmp_path: Path) -> LedgerBackend:
    return LedgerBackend(
        "sqlite",
        lambda: open_ledger(f"sqlite://{tmp_path}/{uuid.uuid4().hex}.sqlite"),
        tamper_sqlite,
    )


def _memory_backend(tmp_path: Path) -> LedgerBackend:
    return LedgerBackend(
        "memory", lambda: open_ledger(f"memory://contract-{uuid.uuid4().hex}"), tamper_memory
    )


def tamper_postgres(ledger: Ledger, run_id: str, column: str, value: Any) -> None:
    """Write a raw value past the schema's CHECK rules (dropped, as another tool might).

    A typed column cannot hold text: text meant for a number column is written as NaN,
    the nearest damage PostgreSQL can store there (also not a finite number)."""
    from urllib.parse import parse_qs, urlsplit

    import psycopg

    from carbonledger.store.postgres import PostgresLedger

    assert isinstance(ledger, PostgresLedger)
    options = parse_qs(urlsplit(ledger.url).query)["options"][0]
    schema = options.split("search_path=", 1)[1]
    table, _, name = column.rpartition(".")
    table = table or "runs"
    with psycopg.connect(shared_server().url(), autocommit=True) as conn:
        conn.execute(f"SET search_path = {schema}")
        conn.execute("ALTER TABLE runs DROP CONSTRAINT IF EXISTS runs_status_check")
        conn.execute("ALTER TABLE runs DROP CONSTRAINT IF EXISTS runs_scope_check")
        cur = conn.execute(
            "SELECT data_type FROM information_schema.columns WHERE table_schema = %s "
            "AND table_name = %s AND column_name = %s",
            (schema, table, name),
        )
        row = cur.fetchone()
        if isinstance(value, str) and row is not None and row[0] == "double precision":
            value = float("nan")
        conn.execute(f"UPDATE {table} SET {name} = %s WHERE run_id = %s", (value, run_id))


def _postgres_backend(tmp_path: Path) -> LedgerBackend:
    server = shared_server()
    return LedgerBackend(
        "postgres",
        lambda: open_ledger(fresh_schema_url(server), connect_timeout_s=10),
        tamper_postgres,
    )


BACKENDS = {
    "sqlite": _sqlite_backend,
    "memory": _memory_backend,
    "postgres": _postgres_backend,
}


@pytest.fixture(params=sorted(BACKENDS))
def ledger_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LedgerBackend]:
    """Each backend in turn: ``.factory()`` gives a fresh ledger, ``.tamper`` damages rows."""
    yield BACKENDS[request.param](tmp_path)
