"""The ledger backends every contract test runs against (add PostgreSQL here later)."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

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


BACKENDS = {"sqlite": _sqlite_backend, "memory": _memory_backend}


@pytest.fixture(params=sorted(BACKENDS))
def ledger_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LedgerBackend]:
    """Each backend in turn: ``.factory()`` gives a fresh ledger, ``.tamper`` damages rows."""
    yield BACKENDS[request.param](tmp_path)
