"""The SQLite ledger's schema as ordered migrations, and the code that applies them.

The schema version lives in ``PRAGMA user_version``; ``PRAGMA application_id`` marks the
file as a carbonledger ledger. ``MIGRATIONS[i]`` takes a ledger from version ``i`` to
``i + 1``; a new version appends a step and never edits an old one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from carbonledger.errors import LedgerError

__all__ = [
    "APPLICATION_ID",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "check_version",
    "migrate",
    "read_version",
]

# "CBLG" in ASCII: marks a file as a carbonledger ledger (sqlite.org/fileformat.html#appid).
APPLICATION_ID = 0x43424C47

_V1: tuple[str, ...] = (
    """
    CREATE TABLE runs (
        run_id TEXT PRIMARY KEY NOT NULL,
        name TEXT NOT NULL,
        phase TEXT NOT NULL,
        status TEXT NOT NULL
            CHECK (status IN ('running', 'completed', 'failed', 'interrupted')),
        started_at REAL NOT NULL,
        ended_at REAL,
        scope TEXT NOT NULL CHECK (scope IN ('machine', 'process')),
        zone TEXT,
        pue REAL,
        interval_s REAL NOT NULL,
        host_json TEXT NOT NULL,
        tags_json TEXT NOT NULL,
        exit_code INTEGER,
        pid INTEGER,
        heartbeat_at REAL,
        settings_json TEXT NOT NULL,
        functional_unit_name TEXT,
        functional_unit_count REAL,
        interrupted_inferred_at REAL
    )
    """,
    "CREATE INDEX runs_by_start ON runs (started_at)",
    """
    CREATE TABLE devices (
        run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        device_id TEXT NOT NULL,
        component TEXT NOT NULL,
        name TEXT NOT NULL,
        method TEXT NOT NULL,
        source TEXT NOT NULL,
        uncertainty_rel REAL NOT NULL,
        details_json TEXT NOT NULL,
        PRIMARY KEY (run_id, device_id)
    )
    """,
    """
    CREATE TABLE samples (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        device_id TEXT NOT NULL,
        t_start REAL NOT NULL,
        t_end REAL NOT NULL,
        host_energy_j REAL,
        energy_j REAL
    )
    """,
    "CREATE INDEX samples_by_run ON samples (run_id, id)",
    """
    CREATE TABLE spans (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        started_at REAL NOT NULL,
        ended_at REAL,
        energy_json TEXT NOT NULL,
        host_energy_json TEXT NOT NULL
    )
    """,
    "CREATE INDEX spans_by_run ON spans (run_id, id)",
    """
    CREATE TABLE metrics (
        run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('int', 'float', 'str', 'bool')),
        value,
        step INTEGER NOT NULL,
        logged_at REAL NOT NULL,
        PRIMARY KEY (run_id, name)
    )
    """,
)

MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1,)
SCHEMA_VERSION = len(MIGRATIONS)


def read_version(conn: sqlite3.Connection) -> tuple[int, int]:
    """``(application_id, user_version)`` of an open database."""
    app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    return app_id, version


def check_version(
    path: Path, app_id: int, version: int, conn: sqlite3.Connection, target: int
) -> None:
    """Raise LedgerError unless the file is a carbonledger ledger this code can use."""
    if version > target:
        raise LedgerError(
            f"ledger {path} has schema version {version}, newer than this carbonledger "
            f"supports ({target}); upgrade carbonledger to read it"
        )
    if app_id == APPLICATION_ID:
        return
    if app_id != 0 or version != 0:
        raise LedgerError(f"{path} is an SQLite database but not a carbonledger ledger")
    tables = [
        str(row[0])
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    if tables:
        raise LedgerError(
            f"{path} is an SQLite database but not a carbonledger ledger "
            f"(it has tables {', '.join(sorted(tables)[:5])} and no schema version)"
        )


def migrate(
    conn: sqlite3.Connection, path: Path, migrations: Sequence[Sequence[str]] = MIGRATIONS
) -> int:
    """Bring the database to ``len(migrations)``; call inside a write transaction.

    Returns the version found before migrating. Raises LedgerError for a newer or foreign
    database.
    """
    target = len(migrations)
    app_id, version = read_version(conn)
    check_version(path, app_id, version, conn, target)
    for step in range(version, target):
        for statement in migrations[step]:
            conn.execute(statement)
    if version != target:
        conn.execute(f"PRAGMA user_version = {int(target)}")
    if app_id != APPLICATION_ID:
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    return version
