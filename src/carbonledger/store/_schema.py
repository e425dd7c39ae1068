"""The SQLite ledger's schema as ordered migrations, and the code that applies them.

The schema version lives in ``PRAGMA user_version``; ``PRAGMA application_id`` marks the
file as a carbonledger ledger. ``MIGRATIONS[i]`` takes a ledger from version ``i`` to
``i + 1``; a new version appends a step and never edits an old one. A step is a list
of SQL statements or Python functions of the connection (for back-fills that must not
fail on one damaged row).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

from carbonledger.errors import LedgerError

__all__ = [
    "APPLICATION_ID",
    "CELL_S",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "TABLES",
    "bad_sample",
    "check_version",
    "migrate",
    "missing_tables",
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


def _backfill_typed_columns(conn: sqlite3.Connection) -> None:
    """Copy what pricing needs out of the settings blob into v2's typed columns.

    A blob that is not JSON, or a key that is not a string, leaves the column NULL: a
    damaged row must not stop the migration (readers report it).
    """
    rows = conn.execute("SELECT rowid, settings_json FROM runs").fetchall()
    for rowid, blob in rows:
        try:
            settings = json.loads(blob) if isinstance(blob, str) else None
        except ValueError:
            continue
        if not isinstance(settings, dict):
            continue
        values = [settings.get(key) for key in TYPED_SETTINGS]
        values = [v if isinstance(v, str) else None for v in values]
        if any(v is not None for v in values):
            conn.execute(
                "UPDATE runs SET embodied = ?, intensity_provider = ?, intensity_series = ? "
                "WHERE rowid = ?",
                (*values, rowid),
            )


TYPED_SETTINGS = ("embodied", "intensity_provider", "intensity_series")
"""Settings-blob keys that v2 keeps in typed ``runs`` columns of the same names."""

_V2: tuple[str | Callable[[sqlite3.Connection], None], ...] = (
    "ALTER TABLE runs ADD COLUMN embodied TEXT",
    "ALTER TABLE runs ADD COLUMN intensity_provider TEXT",
    "ALTER TABLE runs ADD COLUMN intensity_series TEXT",
    _backfill_typed_columns,
    """
    CREATE TABLE series (
        run_id TEXT PRIMARY KEY NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        series_json TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE attachments (
        run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        data_json TEXT NOT NULL,
        PRIMARY KEY (run_id, key)
    )
    """,
)

# v3: the run's distributed-job identity, indexed by job key (carbonledger job KEY)
_V3: tuple[str, ...] = (
    "ALTER TABLE runs ADD COLUMN job_key TEXT",
    "ALTER TABLE runs ADD COLUMN job_node TEXT",
    "ALTER TABLE runs ADD COLUMN job_rank INTEGER",
    "ALTER TABLE runs ADD COLUMN job_local_rank INTEGER",
    "ALTER TABLE runs ADD COLUMN job_restart INTEGER",
    "ALTER TABLE runs ADD COLUMN job_launcher TEXT",
    "CREATE INDEX runs_by_job ON runs (job_key, started_at)",
)


_V4_REQUESTS: tuple[str, ...] = (
    """
    CREATE TABLE requests (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        request_id INTEGER NOT NULL,
        route TEXT NOT NULL,
        http_method TEXT NOT NULL,
        status INTEGER,
        outcome TEXT NOT NULL,
        started_at REAL NOT NULL,
        ended_at REAL,
        latency_s REAL,
        tokens INTEGER,
        energy_j REAL,
        carbon_g REAL,
        attribution TEXT NOT NULL,
        uncertainty_rel REAL
    )
    """,
    "CREATE INDEX requests_by_run ON requests (run_id, started_at)",
)
"""Per-request energy of a server run (carbonledger.serving); additive."""

_MAX_REAL = "1.7976931348623157e308"


def bad_sample(row: str = "") -> str:
    """SQL true for a sample row that the ledger's sample decoder would refuse (damage):
    comparisons only (cheap). Text and blobs sort above every number in SQLite, so a value
    that is not a finite number, or is negative where energy is, compares out of range.
    ``row`` prefixes the columns (``"NEW."`` in a trigger)."""
    e, h, a, b = (f"{row}{c}" for c in ("energy_j", "host_energy_j", "t_start", "t_end"))
    return (
        f"({e} < 0 OR {e} > {_MAX_REAL} OR {h} < 0 OR {h} > {_MAX_REAL} "
        f"OR {a} IS NULL OR {b} IS NULL OR {a} > {_MAX_REAL} OR {a} < -{_MAX_REAL} "
        f"OR {b} > {_MAX_REAL} OR {b} < -{_MAX_REAL})"
    )


# v5: per run and device sums of the samples, kept by triggers as samples are written,
# so listings and pricing read a few rows per run instead of every sample. The sums are
# taken in insertion order (the order pricing sample by sample adds them); a sample
# changed or removed afterwards marks the run's sums stale (readers then sum the samples
# again), and ``bad`` counts samples the decoder would refuse (readers then read them,
# which names the damage).
_V5_SAMPLE_TOTALS: tuple[str, ...] = (
    """
    CREATE TABLE sample_totals (
        run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        device_id TEXT NOT NULL,
        host_energy_j REAL,
        energy_j REAL,
        samples INTEGER NOT NULL,
        missing INTEGER NOT NULL,
        covered_s REAL NOT NULL,
        t_end REAL,
        bad INTEGER NOT NULL,
        stale INTEGER NOT NULL,
        PRIMARY KEY (run_id, device_id)
    ) WITHOUT ROWID
    """,
    f"""
    INSERT INTO sample_totals
    SELECT run_id, device_id, SUM(host_energy_j), SUM(energy_j), COUNT(*),
        COUNT(*) - COUNT(energy_j),
        TOTAL(CASE WHEN host_energy_j IS NOT NULL THEN t_end - t_start END),
        MAX(t_end), SUM({bad_sample()} IS 1), 0
    FROM samples WHERE run_id IN (SELECT run_id FROM runs) GROUP BY run_id, device_id
    """,
    f"""
    CREATE TRIGGER sample_totals_insert AFTER INSERT ON samples BEGIN
        INSERT INTO sample_totals VALUES (
            NEW.run_id, NEW.device_id, NEW.host_energy_j, NEW.energy_j, 1,
            NEW.energy_j IS NULL,
            CASE WHEN NEW.host_energy_j IS NOT NULL THEN NEW.t_end - NEW.t_start ELSE 0.0 END,
            NEW.t_end, {bad_sample("NEW.")} IS 1, 0)
        ON CONFLICT (run_id, device_id) DO UPDATE SET
            host_energy_j = CASE WHEN excluded.host_energy_j IS NULL THEN host_energy_j
                WHEN host_energy_j IS NULL THEN excluded.host_energy_j
                ELSE host_energy_j + excluded.host_energy_j END,
            energy_j = CASE WHEN excluded.energy_j IS NULL THEN energy_j
                WHEN energy_j IS NULL THEN excluded.energy_j
                ELSE energy_j + excluded.energy_j END,
            samples = samples + 1,
            missing = missing + excluded.missing,
            covered_s = covered_s + excluded.covered_s,
            t_end = MAX(t_end, excluded.t_end),
            bad = bad + excluded.bad;
    END
    """,
    """
    CREATE TRIGGER sample_totals_update AFTER UPDATE ON samples BEGIN
        UPDATE sample_totals SET stale = 1 WHERE run_id IN (OLD.run_id, NEW.run_id);
    END
    """,
    """
    CREATE TRIGGER sample_totals_delete AFTER DELETE ON samples BEGIN
        UPDATE sample_totals SET stale = 1 WHERE run_id = OLD.run_id;
    END
    """,
)
"""Per-run sums of the samples, kept as samples are written (see above)."""

# v6: per run, device and 300 s cell of UTC time, sums of the samples, kept by triggers
# as samples are written, so a job's energy per hour of an intensity series is read from
# a few rows per device-hour instead of every sample (store/device_hours.py). A cell is
# floor(t_start / CELL_S); ``z`` marks samples lasting no time (counted apart) and ``a``
# the one sample that crosses its cell's end (kept apart: it is priced exactly). Changed
# or removed samples mark the run's cells ``stale`` and ``bad`` counts samples the decoder
# would refuse: readers then read the samples themselves.
CELL_S = 300.0
"""Width of a kept sample cell, in seconds (divides every hour and every 5, 15, 30 min)."""


def _cell(t: str) -> str:
    """floor(t / CELL_S) as an integer, without SQLite's optional maths functions."""
    x = f"({t} / {CELL_S!r})"
    return f"(CAST({x} AS INTEGER) - ({x} < CAST({x} AS INTEGER)))"


def _cell_keys(row: str) -> tuple[str, str, str]:
    """(z, cell, a) of a sample row as SQL (``row`` prefixes the columns)."""
    a, b = f"{row}t_start", f"{row}t_end"
    z = f"({b} <= {a})"
    cell = _cell(a)
    crosses = f"(({b} <= {a}) IS NOT 1 AND {b} > ({cell} + 1) * {CELL_S!r})"
    return z, cell, crosses


def _cell_sql() -> tuple[str, ...]:
    z, cell, crosses = _cell_keys("NEW.")
    bz, bcell, bcrosses = _cell_keys("")
    dur = "NEW.t_end - NEW.t_start"
    return (
        """
    CREATE TABLE sample_cells (
        run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        device_id TEXT NOT NULL,
        z INTEGER NOT NULL,
        cell INTEGER NOT NULL,
        a INTEGER NOT NULL,
        samples INTEGER NOT NULL,
        duration_s REAL NOT NULL,
        t_min REAL,
        t_max REAL,
        host_energy_j REAL,
        covered_s REAL NOT NULL,
        energy_j REAL,
        missing INTEGER NOT NULL,
        known_s REAL NOT NULL,
        nonzero INTEGER NOT NULL,
        bad INTEGER NOT NULL,
        stale INTEGER NOT NULL,
        PRIMARY KEY (run_id, device_id, z, cell, a)
    ) WITHOUT ROWID
    """,
        f"""
    INSERT INTO sample_cells
    SELECT run_id, device_id, z, c, a, COUNT(*), TOTAL(t_end - t_start), MIN(t_start),
        MAX(t_end), SUM(host_energy_j),
        TOTAL(CASE WHEN host_energy_j IS NOT NULL THEN t_end - t_start END), SUM(energy_j),
        COUNT(*) - COUNT(energy_j),
        TOTAL(CASE WHEN energy_j IS NOT NULL THEN t_end - t_start END),
        COUNT(CASE WHEN energy_j != 0 THEN 1 END), SUM({bad_sample()} IS 1), 0
    FROM (SELECT *, {bz} IS 1 AS z, {bcell} AS c, {bcrosses} IS 1 AS a FROM samples
        WHERE run_id IN (SELECT run_id FROM runs))
    GROUP BY run_id, device_id, z, c, a
    """,
        f"""
    CREATE TRIGGER sample_cells_insert AFTER INSERT ON samples BEGIN
        INSERT INTO sample_cells VALUES (
            NEW.run_id, NEW.device_id, {z} IS 1, {cell}, {crosses} IS 1, 1, {dur},
            NEW.t_start, NEW.t_end, NEW.host_energy_j,
            CASE WHEN NEW.host_energy_j IS NOT NULL THEN {dur} ELSE 0.0 END,
            NEW.energy_j, NEW.energy_j IS NULL,
            CASE WHEN NEW.energy_j IS NOT NULL THEN {dur} ELSE 0.0 END,
            NEW.energy_j != 0 IS 1, {bad_sample("NEW.")} IS 1, 0)
        ON CONFLICT (run_id, device_id, z, cell, a) DO UPDATE SET
            samples = samples + 1,
            duration_s = duration_s + excluded.duration_s,
            t_min = MIN(t_min, excluded.t_min),
            t_max = MAX(t_max, excluded.t_max),
            host_energy_j = CASE WHEN excluded.host_energy_j IS NULL THEN host_energy_j
                WHEN host_energy_j IS NULL THEN excluded.host_energy_j
                ELSE host_energy_j + excluded.host_energy_j END,
            covered_s = covered_s + excluded.covered_s,
            energy_j = CASE WHEN excluded.energy_j IS NULL THEN energy_j
                WHEN energy_j IS NULL THEN excluded.energy_j
                ELSE energy_j + excluded.energy_j END,
            missing = missing + excluded.missing,
            known_s = known_s + excluded.known_s,
            nonzero = nonzero + excluded.nonzero,
            bad = bad + excluded.bad;
    END
    """,
        """
    CREATE TRIGGER sample_cells_update AFTER UPDATE ON samples BEGIN
        UPDATE sample_cells SET stale = 1 WHERE run_id IN (OLD.run_id, NEW.run_id);
    END
    """,
        """
    CREATE TRIGGER sample_cells_delete AFTER DELETE ON samples BEGIN
        UPDATE sample_cells SET stale = 1 WHERE run_id = OLD.run_id;
    END
    """,
    )


_V6_SAMPLE_CELLS = _cell_sql()
"""Per-run, per-device, per-cell sums of the samples, kept as samples are written."""

Step = str | Callable[[sqlite3.Connection], None]
MIGRATIONS: tuple[tuple[Step, ...], ...] = (
    _V1,
    _V2,
    _V3,
    _V4_REQUESTS,
    _V5_SAMPLE_TOTALS,
    _V6_SAMPLE_CELLS,
)
SCHEMA_VERSION = len(MIGRATIONS)
TABLES = (
    "runs",
    "devices",
    "samples",
    "spans",
    "metrics",
    "series",
    "attachments",
    "requests",
    "sample_totals",
    "sample_cells",
)
"""The tables a current ledger has; one missing means the file was damaged."""


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
    conn: sqlite3.Connection, path: Path, migrations: Sequence[Sequence[Step]] = MIGRATIONS
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
            if callable(statement):
                statement(conn)
            else:
                conn.execute(statement)
    if version != target:
        conn.execute(f"PRAGMA user_version = {int(target)}")
    if app_id != APPLICATION_ID:
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    return version


def missing_tables(conn: sqlite3.Connection) -> list[str]:
    """The tables of :data:`TABLES` that a current-version ledger lacks."""
    present = {
        str(row[0]) for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    return [t for t in TABLES if t not in present]
