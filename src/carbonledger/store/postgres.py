"""The PostgreSQL ledger: one database shared by many nodes, for ``postgresql://`` URLs.

psycopg 3 with a connection pool (``pip install 'carbonledger[postgres]'``), imported only
when such a URL is opened. Every write is one transaction; samples go in bulk with
``COPY``. The schema is versioned in a ``carbonledger_schema`` table and migrated under a
transaction-level advisory lock, so many nodes opening a fresh database at once agree.

Uploads of runs kept elsewhere (a node's spool, a per-node SQLite ledger) use the
idempotent writes :meth:`PostgresLedger.merge_samples` and
:meth:`PostgresLedger.merge_spans`: a sample already stored under the same run, device
and interval (``t_start``, ``t_end``) is not stored again, so a retried upload never
duplicates. Plain :meth:`append_samples` is a plain append (the ledger contract).

The URL's password (user-info or ``password=`` parameter) never appears in what this
module logs, raises or stores: see :func:`redact_url`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from carbonledger.errors import ConfigError, CorruptRunError, LedgerError, RunNotFoundError
from carbonledger.records import DeviceInfo, RunRecord, RunStatus, Sample, SpanRecord
from carbonledger.store._rows import (
    RUN_COLUMNS,
    RUN_FIELDS,
    clean_text,
    decode_device,
    decode_metric_row,
    decode_run,
    decode_sample,
    decode_span,
    dumps,
    encode_device,
    encode_metric,
    encode_run,
    encode_sample,
    encode_span,
    loads_blob,
)
from carbonledger.store._schema import CELL_S
from carbonledger.store.base import BadRowHandler, MetricValue, warn_bad_row
from carbonledger.store.liveness import DEFAULT_STALE_AFTER_S, tracker_gone
from carbonledger.store.postgres_aggregates import PgAggregates

if TYPE_CHECKING:
    from carbonledger.intensity.series import IntensitySeries

__all__ = [
    "SCHEMA_VERSION",
    "SCHEMES",
    "LedgerUnreachableError",
    "PostgresLedger",
    "open_postgres_url",
    "redact_url",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

SCHEMES = ("postgresql", "postgres")
DEFAULT_CONNECT_TIMEOUT_S = 5.0
DEFAULT_POOL_SIZE = 4
_MIGRATION_LOCK = 0x43424C47  # "CBLG": the advisory lock key migrations take
_CANDIDATES_SHOWN = 5


class LedgerUnreachableError(LedgerError):
    """The database cannot be reached (down, wrong address, network): worth retrying."""


# -- URLs ------------------------------------------------------------------------------
def redact_url(url: str) -> str:
    """``url`` without its password: ``postgresql://user:***@host/db`` (query too)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable ledger URL>"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, sep, _password = userinfo.partition(":")
        netloc = f"{user}:***@{hostport}" if sep else f"{user}@{hostport}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, "***" if k.lower() == "password" else v) for k, v in pairs], safe="/:*"
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _password(url: str) -> str | None:
    parts = urlsplit(url)
    found = parts.password
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key.lower() == "password":
            found = value
    return found or None


def _conninfo(url: str) -> str:
    """The URL as libpq takes it (``postgres://`` is an alias it knows too)."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in SCHEMES:
        raise ConfigError(f"ledger URL {redact_url(url)!r} is not a postgresql:// URL")
    return urlunsplit(("postgresql", *parts[1:]))


# -- schema ----------------------------------------------------------------------------
_V1: tuple[str, ...] = (
    """
    CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        phase TEXT NOT NULL,
        status TEXT NOT NULL
            CONSTRAINT runs_status_check
            CHECK (status IN ('running', 'completed', 'failed', 'interrupted')),
        started_at DOUBLE PRECISION NOT NULL,
        ended_at DOUBLE PRECISION,
        scope TEXT NOT NULL CONSTRAINT runs_scope_check CHECK (scope IN ('machine', 'process')),
        zone TEXT,
        pue DOUBLE PRECISION,
        interval_s DOUBLE PRECISION NOT NULL,
        host_json TEXT NOT NULL,
        tags_json TEXT NOT NULL,
        exit_code BIGINT,
        pid BIGINT,
        heartbeat_at DOUBLE PRECISION,
        settings_json TEXT NOT NULL,
        functional_unit_name TEXT,
        functional_unit_count DOUBLE PRECISION,
        interrupted_inferred_at DOUBLE PRECISION,
        embodied TEXT,
        intensity_provider TEXT,
        intensity_series TEXT
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
        uncertainty_rel DOUBLE PRECISION NOT NULL,
        details_json TEXT NOT NULL,
        PRIMARY KEY (run_id, device_id)
    )
    """,
    """
    CREATE TABLE samples (
        id BIGSERIAL PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        device_id TEXT NOT NULL,
        t_start DOUBLE PRECISION NOT NULL,
        t_end DOUBLE PRECISION NOT NULL,
        host_energy_j DOUBLE PRECISION,
        energy_j DOUBLE PRECISION
    )
    """,
    "CREATE INDEX samples_by_run ON samples (run_id, id)",
    "CREATE INDEX samples_by_interval ON samples (run_id, device_id, t_start)",
    """
    CREATE TABLE spans (
        id BIGSERIAL PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        started_at DOUBLE PRECISION NOT NULL,
        ended_at DOUBLE PRECISION,
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
        value TEXT,
        step INTEGER NOT NULL,
        logged_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (run_id, name)
    )
    """,
    """
    CREATE TABLE series (
        run_id TEXT PRIMARY KEY REFERENCES runs (run_id) ON DELETE CASCADE,
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

# v2: the run's distributed-job identity, indexed by job key (carbonledger job KEY)
_V2: tuple[str, ...] = (
    "ALTER TABLE runs ADD COLUMN job_key TEXT",
    "ALTER TABLE runs ADD COLUMN job_node TEXT",
    "ALTER TABLE runs ADD COLUMN job_rank BIGINT",
    "ALTER TABLE runs ADD COLUMN job_local_rank BIGINT",
    "ALTER TABLE runs ADD COLUMN job_restart BIGINT",
    "ALTER TABLE runs ADD COLUMN job_launcher TEXT",
    "CREATE INDEX runs_by_job ON runs (job_key, started_at)",
)

# v3: per run, device and 300 s cell of UTC time, sums of the samples, kept as samples
# are written (a statement trigger over the inserted rows, so COPY and merges alike), read
# by store/device_hours.py; the same cells as the SQLite ledger's schema v6 (see there).
# Changed or removed samples mark the run's cells stale; ``bad`` counts samples with a
# time that is not finite or an energy that is negative or not finite.
_CELL = f"floor(t_start / {CELL_S!r})"
_BAD = (
    "(NOT (t_start > '-Infinity' AND t_start < 'Infinity' AND t_end > '-Infinity' "
    "AND t_end < 'Infinity') OR energy_j < 0 OR energy_j >= 'Infinity' "
    "OR host_energy_j < 0 OR host_energy_j >= 'Infinity')"
)
_CELL_ROWS = (
    "SELECT run_id, device_id, z, c, a, COUNT(*), COALESCE(SUM(t_end - t_start), 0), "
    "MIN(t_start), MAX(t_end), SUM(host_energy_j), "
    "COALESCE(SUM(t_end - t_start) FILTER (WHERE host_energy_j IS NOT NULL), 0), "
    "SUM(energy_j), COUNT(*) - COUNT(energy_j), "
    "COALESCE(SUM(t_end - t_start) FILTER (WHERE energy_j IS NOT NULL), 0), "
    "COUNT(*) FILTER (WHERE energy_j <> 0), COUNT(*) FILTER (WHERE bad), false FROM ("
    f"SELECT *, (NOT z AND t_end > (c + 1) * {CELL_S!r}) AS a FROM ("
    f"SELECT run_id, device_id, t_start, t_end, host_energy_j, energy_j, "
    f"(t_end <= t_start) IS TRUE AS z, {_CELL} AS c, {_BAD} IS TRUE AS bad "
    "FROM {source}) q) p GROUP BY run_id, device_id, z, c, a"
)
_V3_SAMPLE_CELLS: tuple[str, ...] = (
    """
    CREATE TABLE sample_cells (
        run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        device_id TEXT NOT NULL,
        z BOOLEAN NOT NULL,
        cell DOUBLE PRECISION NOT NULL,
        a BOOLEAN NOT NULL,
        samples BIGINT NOT NULL,
        duration_s DOUBLE PRECISION NOT NULL,
        t_min DOUBLE PRECISION,
        t_max DOUBLE PRECISION,
        host_energy_j DOUBLE PRECISION,
        covered_s DOUBLE PRECISION NOT NULL,
        energy_j DOUBLE PRECISION,
        missing BIGINT NOT NULL,
        known_s DOUBLE PRECISION NOT NULL,
        nonzero BIGINT NOT NULL,
        bad BIGINT NOT NULL,
        stale BOOLEAN NOT NULL,
        PRIMARY KEY (run_id, device_id, z, cell, a)
    )
    """,
    f"INSERT INTO sample_cells {_CELL_ROWS.format(source='samples')}",
    f"""
    CREATE FUNCTION carbonledger_sample_cells_add() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO sample_cells AS k
        {_CELL_ROWS.format(source="fresh")} ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (run_id, device_id, z, cell, a) DO UPDATE SET
            samples = k.samples + excluded.samples,
            duration_s = k.duration_s + excluded.duration_s,
            t_min = LEAST(k.t_min, excluded.t_min),
            t_max = GREATEST(k.t_max, excluded.t_max),
            host_energy_j = CASE WHEN excluded.host_energy_j IS NULL THEN k.host_energy_j
                WHEN k.host_energy_j IS NULL THEN excluded.host_energy_j
                ELSE k.host_energy_j + excluded.host_energy_j END,
            covered_s = k.covered_s + excluded.covered_s,
            energy_j = CASE WHEN excluded.energy_j IS NULL THEN k.energy_j
                WHEN k.energy_j IS NULL THEN excluded.energy_j
                ELSE k.energy_j + excluded.energy_j END,
            missing = k.missing + excluded.missing,
            known_s = k.known_s + excluded.known_s,
            nonzero = k.nonzero + excluded.nonzero,
            bad = k.bad + excluded.bad;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER sample_cells_add AFTER INSERT ON samples
    REFERENCING NEW TABLE AS fresh FOR EACH STATEMENT
    EXECUTE FUNCTION carbonledger_sample_cells_add()
    """,
    """
    CREATE FUNCTION carbonledger_sample_cells_stale() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE sample_cells SET stale = true
        WHERE run_id IN (SELECT run_id FROM gone) AND NOT stale;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER sample_cells_stale_delete AFTER DELETE ON samples
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT
    EXECUTE FUNCTION carbonledger_sample_cells_stale()
    """,
    """
    CREATE TRIGGER sample_cells_stale_update AFTER UPDATE ON samples
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT
    EXECUTE FUNCTION carbonledger_sample_cells_stale()
    """,
)

MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1, _V2, _V3_SAMPLE_CELLS)
"""``MIGRATIONS[i]`` takes the database from version ``i`` to ``i + 1``; append, never edit."""
SCHEMA_VERSION = len(MIGRATIONS)


# -- the ledger ------------------------------------------------------------------------
class PostgresLedger(PgAggregates):
    """A :class:`~carbonledger.store.base.Ledger` in a PostgreSQL database.

    Thread-safe (a pool of up to ``pool_size`` connections); open a new one after
    ``fork``. psycopg errors are raised as :class:`LedgerError` naming the redacted URL;
    :class:`LedgerUnreachableError` when the server cannot be reached.
    """

    def __init__(
        self,
        url: str,
        *,
        stale_after_s: float = DEFAULT_STALE_AFTER_S,
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
        pool_size: int = DEFAULT_POOL_SIZE,
    ) -> None:
        self.url = redact_url(url)
        """The URL without its password: safe to show."""
        self.stale_after_s = float(stale_after_s)
        self._secret = _password(url)
        self._hostname = os.uname().nodename
        self._timeout_s = float(connect_timeout_s)
        self._lock = threading.Lock()
        try:
            import psycopg
            from psycopg_pool import ConnectionPool
        except ImportError:
            raise ConfigError(
                f"ledger {self.url} needs psycopg 3 and psycopg-pool: "
                "pip install 'carbonledger[postgres]'"
            ) from None
        conninfo = _conninfo(url)
        _quiet_pool_logs()
        connect_timeout = max(1, round(self._timeout_s))
        try:  # one direct connection first: the server's own reason, fast, when it fails
            psycopg.connect(conninfo, connect_timeout=connect_timeout).close()
        except psycopg.Error as exc:
            raise LedgerUnreachableError(
                f"cannot reach ledger {self.url}: {self._scrub(exc)}"
            ) from None
        pool = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=max(1, int(pool_size)),
            kwargs={"connect_timeout": connect_timeout},
            timeout=self._timeout_s,
            check=ConnectionPool.check_connection,
            open=False,
            name="carbonledger",
        )
        self._pool: Any = pool
        try:
            pool.open(wait=True, timeout=self._timeout_s)
        except Exception as exc:
            self._pool = None
            pool.close(timeout=0)
            raise LedgerUnreachableError(
                f"cannot reach ledger {self.url}: {self._scrub(exc)}"
            ) from None
        try:
            self._migrate()
        except BaseException:
            self.close()
            raise

    # -- plumbing ------------------------------------------------------------------
    def _scrub(self, exc: BaseException) -> str:
        text = " ".join(str(exc).split()) or type(exc).__name__
        if self._secret:
            text = text.replace(self._secret, "***")
        return text

    def _tx(self, action: str, fn: Callable[[Any], T]) -> T:
        """Run ``fn(cursor)`` in one transaction (committed unless it raises)."""
        import psycopg
        from psycopg_pool import PoolClosed, PoolTimeout

        pool = self._pool
        if pool is None:
            raise LedgerError(f"ledger {self.url} is closed")
        try:
            with pool.connection(timeout=self._timeout_s) as conn, conn.cursor() as cur:
                return fn(cur)
        except PoolClosed:
            raise LedgerError(f"ledger {self.url} is closed") from None
        except (PoolTimeout, psycopg.OperationalError) as exc:
            raise LedgerUnreachableError(
                f"ledger {self.url}: {action} failed: cannot reach the database "
                f"({self._scrub(exc)})"
            ) from None
        except psycopg.DataError as exc:
            from carbonledger.errors import DataError

            raise DataError(f"ledger {self.url}: {action}: {self._scrub(exc)}") from None
        except psycopg.Error as exc:
            raise LedgerError(f"ledger {self.url}: {action} failed: {self._scrub(exc)}") from None

    def _migrate(self) -> None:
        def migrate(cur: Any) -> None:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            cur.execute(
                "CREATE TABLE IF NOT EXISTS carbonledger_schema ("
                "version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)"
            )
            cur.execute("SELECT COALESCE(MAX(version), 0) FROM carbonledger_schema")
            version = int(cur.fetchone()[0])
            if version > SCHEMA_VERSION:
                raise LedgerError(
                    f"ledger {self.url} has schema version {version}, newer than this "
                    f"carbonledger supports ({SCHEMA_VERSION}); upgrade carbonledger"
                )
            if version == 0:
                cur.execute("SELECT to_regclass('runs') IS NOT NULL")
                if cur.fetchone()[0]:
                    raise LedgerError(
                        f"ledger {self.url}: the database has a 'runs' table but no "
                        "carbonledger schema version (not a carbonledger ledger?)"
                    )
            for step in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[step]:
                    cur.execute(statement)
                cur.execute(
                    "INSERT INTO carbonledger_schema (version, applied_at) VALUES (%s, %s)",
                    (step + 1, time.time()),
                )

        self._tx("migrate", migrate)

    @staticmethod
    def _exists(cur: Any, run_id: str) -> bool:
        cur.execute("SELECT 1 FROM runs WHERE run_id = %s", (run_id,))
        return cur.fetchone() is not None

    def _require_run(self, cur: Any, run_id: str) -> None:
        if not self._exists(cur, run_id):
            raise RunNotFoundError(f"no run {run_id!r} in ledger {self.url}")

    def _touch(self, cur: Any, run_id: str, heartbeat_at: float) -> None:
        cur.execute(
            "UPDATE runs SET heartbeat_at = GREATEST(COALESCE(heartbeat_at, %(hb)s), %(hb)s), "
            "status = CASE WHEN interrupted_inferred_at IS NULL THEN status ELSE 'running' END, "
            "ended_at = CASE WHEN interrupted_inferred_at IS NULL THEN ended_at END, "
            "interrupted_inferred_at = NULL WHERE run_id = %(id)s",
            {"hb": heartbeat_at, "id": run_id},
        )
        if cur.rowcount == 0:
            raise RunNotFoundError(f"no run {run_id!r} in ledger {self.url}")

    # -- writes --------------------------------------------------------------------
    def create_run(self, run: RunRecord, devices: Sequence[DeviceInfo]) -> None:
        """Store a new run and its devices; an existing run id raises LedgerError."""
        encoded = encode_run(run)
        row = tuple(encoded[f] for f in RUN_FIELDS)
        run_id = encoded["run_id"]
        device_rows = [encode_device(run.run_id, i, d) for i, d in enumerate(devices)]

        def insert(cur: Any) -> None:
            cur.execute(
                f"INSERT INTO runs ({RUN_COLUMNS}) VALUES ({_marks(len(RUN_FIELDS))}) "
                "ON CONFLICT (run_id) DO NOTHING",
                row,
            )
            if cur.rowcount == 0:
                raise LedgerError(f"run {run_id!r} already exists in ledger {self.url}")
            cur.executemany(
                "INSERT INTO devices (run_id, position, device_id, component, name, method, "
                f"source, uncertainty_rel, details_json) VALUES ({_marks(9)})",
                device_rows,
            )

        self._tx("create run", insert)

    def append_samples(self, run_id: str, samples: Sequence[Sample], heartbeat_at: float) -> None:
        """Add samples (in bulk, with COPY) and refresh the heartbeat in one transaction."""
        run_id = clean_text(run_id)
        rows = [encode_sample(run_id, s) for s in samples]

        def append(cur: Any) -> None:
            self._touch(cur, run_id, heartbeat_at)
            if rows:
                with cur.copy(
                    "COPY samples (run_id, device_id, t_start, t_end, host_energy_j, energy_j) "
                    "FROM STDIN"
                ) as copy:
                    for r in rows:
                        copy.write_row(r)

        self._tx("append samples", append)

    def merge_samples(self, run_id: str, samples: Sequence[Sample], heartbeat_at: float) -> int:
        """Idempotent upload: add the samples whose (device, t_start, t_end) the run does
        not have yet, in order, and refresh the heartbeat. Returns how many were added.

        Uploads of one run are serialised with an advisory lock, so two nodes retrying
        the same upload at once still store each sample once.
        """
        run_id = clean_text(run_id)
        rows = [(i, *encode_sample(run_id, s)) for i, s in enumerate(samples)]

        def merge(cur: Any) -> int:
            cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 17))", (run_id,))
            self._touch(cur, run_id, heartbeat_at)
            if not rows:
                return 0
            cur.execute(
                "CREATE TEMP TABLE IF NOT EXISTS incoming_samples (ord INTEGER, run_id TEXT, "
                "device_id TEXT, t_start DOUBLE PRECISION, t_end DOUBLE PRECISION, "
                "host_energy_j DOUBLE PRECISION, energy_j DOUBLE PRECISION) "
                "ON COMMIT DELETE ROWS"
            )
            with cur.copy("COPY incoming_samples FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(r)
            cur.execute(
                "INSERT INTO samples (run_id, device_id, t_start, t_end, host_energy_j, "
                "energy_j) SELECT run_id, device_id, t_start, t_end, host_energy_j, energy_j "
                "FROM (SELECT DISTINCT ON (i.device_id, i.t_start, i.t_end) i.* "
                "FROM incoming_samples i WHERE NOT EXISTS (SELECT 1 FROM samples s "
                "WHERE s.run_id = i.run_id AND s.device_id = i.device_id "
                "AND s.t_start = i.t_start AND s.t_end = i.t_end) "
                "ORDER BY i.device_id, i.t_start, i.t_end, i.ord) fresh ORDER BY ord"
            )
            return int(cur.rowcount)

        return self._tx("merge samples", merge)

    def add_span(self, run_id: str, span: SpanRecord) -> None:
        """Store one span (spans of the same path may repeat)."""
        row = encode_span(run_id, span)

        def insert(cur: Any) -> None:
            self._require_run(cur, row[0])
            cur.execute(
                "INSERT INTO spans (run_id, path, started_at, ended_at, energy_json, "
                "host_energy_json) VALUES (%s, %s, %s, %s, %s, %s)",
                row,
            )

        self._tx("add span", insert)

    def merge_spans(self, run_id: str, spans: Sequence[SpanRecord]) -> int:
        """Idempotent upload: add the spans whose (path, start, end) the run lacks."""
        rows = [encode_span(run_id, s) for s in spans]
        run_id = clean_text(run_id)

        def merge(cur: Any) -> int:
            cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 17))", (run_id,))
            self._require_run(cur, run_id)
            added = 0
            for row in rows:
                cur.execute(
                    "INSERT INTO spans (run_id, path, started_at, ended_at, energy_json, "
                    "host_energy_json) SELECT %s, %s, %s, %s, %s, %s WHERE NOT EXISTS ("
                    "SELECT 1 FROM spans WHERE run_id = %s AND path = %s AND started_at = %s "
                    "AND ended_at IS NOT DISTINCT FROM %s)",
                    (*row, row[0], row[1], row[2], row[3]),
                )
                added += cur.rowcount
            return added

        return self._tx("merge spans", merge)

    def log_metrics(self, run_id: str, metrics: Mapping[str, MetricValue]) -> None:
        """Store metrics; a name logged again keeps its last value (``step`` counts logs)."""
        logged_at = time.time()
        run_id = clean_text(run_id)
        rows = []
        for name, value in metrics.items():
            kind, stored = encode_metric(str(name), value)
            rows.append((run_id, clean_text(str(name)), kind, _metric_text(stored), logged_at))

        def upsert(cur: Any) -> None:
            self._require_run(cur, run_id)
            cur.executemany(
                "INSERT INTO metrics (run_id, name, kind, value, step, logged_at) "
                "VALUES (%s, %s, %s, %s, 1, %s) ON CONFLICT (run_id, name) DO UPDATE SET "
                "kind = excluded.kind, value = excluded.value, step = metrics.step + 1, "
                "logged_at = excluded.logged_at",
                rows,
            )

        self._tx("log metrics", upsert)

    def set_functional_unit(self, run_id: str, name: str, count: float) -> None:
        run_id = clean_text(run_id)

        def update(cur: Any) -> None:
            cur.execute(
                "UPDATE runs SET functional_unit_name = %s, functional_unit_count = %s "
                "WHERE run_id = %s",
                (clean_text(name), count, run_id),
            )
            if cur.rowcount == 0:
                raise RunNotFoundError(f"no run {run_id!r} in ledger {self.url}")

        self._tx("set functional unit", update)

    def put_series(self, run_id: str, series: IntensitySeries) -> None:
        run_id = clean_text(run_id)
        text = dumps(series.to_dict(), "intensity series", run_id)

        def upsert(cur: Any) -> None:
            self._require_run(cur, run_id)
            cur.execute(
                "INSERT INTO series (run_id, series_json) VALUES (%s, %s) "
                "ON CONFLICT (run_id) DO UPDATE SET series_json = excluded.series_json",
                (run_id, text),
            )

        self._tx("put series", upsert)

    def put_attachment(self, run_id: str, key: str, data: Mapping[str, Any]) -> None:
        from carbonledger.store.sqlite_rows import as_object as _as_object

        run_id, key = clean_text(run_id), clean_text(str(key))
        text = dumps(_as_object(data, key, run_id), f"attachment {key!r}", run_id)

        def upsert(cur: Any) -> None:
            self._require_run(cur, run_id)
            cur.execute(
                "INSERT INTO attachments (run_id, key, data_json) VALUES (%s, %s, %s) "
                "ON CONFLICT (run_id, key) DO UPDATE SET data_json = excluded.data_json",
                (run_id, key, text),
            )

        self._tx("put attachment", upsert)

    def finish_run(
        self, run_id: str, status: RunStatus, ended_at: float, exit_code: int | None = None
    ) -> None:
        """Close a run; the tracker's word overrides an earlier inferred interruption."""
        status_text = RunStatus(status).value
        run_id = clean_text(run_id)

        def update(cur: Any) -> None:
            cur.execute(
                "UPDATE runs SET status = %s, ended_at = %s, exit_code = %s, "
                "interrupted_inferred_at = NULL WHERE run_id = %s",
                (status_text, ended_at, exit_code, run_id),
            )
            if cur.rowcount == 0:
                raise RunNotFoundError(f"no run {run_id!r} in ledger {self.url}")

        self._tx("finish run", update)

    # -- reads ---------------------------------------------------------------------
    def get_run(self, run_id_or_prefix: str) -> RunRecord:
        """A run by exact id or unique prefix; a run whose tracker died reads as interrupted."""
        key = clean_text(run_id_or_prefix.strip())
        if not key:
            raise RunNotFoundError(f"empty run id for ledger {self.url}")

        def find(cur: Any) -> RunRecord:
            cur.execute(f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = %s", (key,))
            row = cur.fetchone()
            if row is not None:
                return decode_run(row, self.url)
            cur.execute(
                f"SELECT {RUN_COLUMNS} FROM runs WHERE left(run_id, %s) = %s "
                "ORDER BY started_at DESC, run_id LIMIT %s",
                (len(key), key, _CANDIDATES_SHOWN + 1),
            )
            rows = cur.fetchall()
            if not rows:
                raise RunNotFoundError(f"no run matches {key!r} in ledger {self.url}")
            if len(rows) > 1:
                shown = ", ".join(f"{r[0]} ({r[1]})" for r in rows[:_CANDIDATES_SHOWN])
                more = ", …" if len(rows) > _CANDIDATES_SHOWN else ""
                raise RunNotFoundError(
                    f"run id prefix {key!r} is ambiguous in ledger {self.url}: {shown}{more}"
                )
            return decode_run(rows[0], self.url)

        run = self._tx("read run", find)
        if self._settle([run]):
            run = self._tx("read run", find)
        return run

    def list_runs(self, *, on_bad_row: BadRowHandler | None = None) -> list[RunRecord]:
        """Every readable run, newest first; damaged ones go to ``on_bad_row``."""

        def everything(cur: Any) -> tuple[list[RunRecord], list[CorruptRunError]]:
            cur.execute(f"SELECT {RUN_COLUMNS} FROM runs ORDER BY started_at DESC, run_id DESC")
            return _decode_runs(cur.fetchall(), self.url)

        runs, bad = self._tx("list runs", everything)
        if self._settle(runs):
            runs, bad = self._tx("list runs", everything)
        report = warn_bad_row if on_bad_row is None else on_bad_row
        for error in bad:
            report(error)
        return runs

    def job_runs(self, job_key: str, *, on_bad_row: BadRowHandler | None = None) -> list[RunRecord]:
        """The runs of one distributed job, oldest first (an indexed look-up)."""

        def query(cur: Any) -> tuple[list[RunRecord], list[CorruptRunError]]:
            cur.execute(
                f"SELECT {RUN_COLUMNS} FROM runs WHERE job_key = %s ORDER BY started_at, run_id",
                (job_key,),
            )
            return _decode_runs(cur.fetchall(), self.url)

        runs, bad = self._tx("list job runs", query)
        if self._settle(runs):
            runs, bad = self._tx("list job runs", query)
        report = warn_bad_row if on_bad_row is None else on_bad_row
        for error in bad:
            report(error)
        return runs

    def _settle(self, runs: Iterable[RunRecord]) -> bool:
        """Mark running runs whose tracker is gone as interrupted (heartbeat across hosts;
        the pid is checked only for runs of this host). True if any changed."""
        now = time.time()
        gone = [
            r
            for r in runs
            if tracker_gone(r, now=now, stale_after_s=self.stale_after_s, hostname=self._hostname)
        ]
        if not gone:
            return False

        def mark(cur: Any) -> int:
            changed = 0
            for r in gone:
                # compare-and-set on the heartbeat: a tracker that wrote meanwhile is alive
                cur.execute(
                    "UPDATE runs SET status = 'interrupted', interrupted_inferred_at = %(now)s, "
                    "ended_at = GREATEST(started_at, COALESCE(heartbeat_at, started_at), "
                    "COALESCE((SELECT MAX(t_end) FROM samples WHERE run_id = %(id)s), "
                    "started_at)) WHERE run_id = %(id)s AND status = 'running' "
                    "AND heartbeat_at IS NOT DISTINCT FROM %(hb)s",
                    {"now": now, "id": r.run_id, "hb": r.heartbeat_at},
                )
                changed += cur.rowcount
            return changed

        changed = self._tx("mark interrupted runs", mark)
        for r in gone:
            log.info("ledger %s: run %s's tracker is gone; marked interrupted", self.url, r.run_id)
        return changed > 0

    def _rows(self, action: str, sql: str, run_id: str) -> list[tuple[Any, ...]]:
        def query(cur: Any) -> list[tuple[Any, ...]]:
            self._require_run(cur, run_id)
            cur.execute(sql, (run_id,))
            return list(cur.fetchall())

        return self._tx(action, query)

    def devices(self, run_id: str) -> list[DeviceInfo]:
        run_id = clean_text(run_id)
        rows = self._rows(
            "read devices",
            "SELECT device_id, component, name, method, source, uncertainty_rel, details_json "
            "FROM devices WHERE run_id = %s ORDER BY position",
            run_id,
        )
        return [decode_device(r, run_id, self.url) for r in rows]

    def samples(self, run_id: str) -> list[Sample]:
        run_id = clean_text(run_id)
        rows = self._rows(
            "read samples",
            "SELECT device_id, t_start, t_end, host_energy_j, energy_j FROM samples "
            "WHERE run_id = %s ORDER BY id",
            run_id,
        )
        return [decode_sample(r, run_id, i, self.url) for i, r in enumerate(rows)]

    def spans(self, run_id: str) -> list[SpanRecord]:
        run_id = clean_text(run_id)
        rows = self._rows(
            "read spans",
            "SELECT path, started_at, ended_at, energy_json, host_energy_json FROM spans "
            "WHERE run_id = %s ORDER BY id",
            run_id,
        )
        return [decode_span(r, run_id, self.url) for r in rows]

    def metrics(self, run_id: str) -> dict[str, MetricValue]:
        run_id = clean_text(run_id)
        rows = self._rows(
            "read metrics",
            "SELECT name, kind, value FROM metrics WHERE run_id = %s ORDER BY name",
            run_id,
        )
        return {
            r[0]: decode_metric_row(r[0], r[1], _metric_value(r[1], r[2]), run_id, self.url)
            for r in rows
        }

    def functional_unit(self, run_id: str) -> tuple[str, float] | None:
        from carbonledger.store.sqlite_rows import stored_functional_unit as _functional_unit

        run_id = clean_text(run_id)

        def query(cur: Any) -> Any:
            cur.execute(
                "SELECT functional_unit_name, functional_unit_count FROM runs WHERE run_id = %s",
                (run_id,),
            )
            return cur.fetchone()

        row = self._tx("read functional unit", query)
        if row is None:
            raise RunNotFoundError(f"no run {run_id!r} in ledger {self.url}")
        if row[0] is None or row[1] is None:
            return None
        return _functional_unit(row[0], row[1], run_id, self.url)

    def series(self, run_id: str) -> IntensitySeries | None:
        from carbonledger.store.sqlite_rows import series_from_json

        run_id = clean_text(run_id)
        rows = self._rows("read series", "SELECT series_json FROM series WHERE run_id = %s", run_id)
        return series_from_json(rows[0][0], run_id, self.url) if rows else None

    def attachments(self, run_id: str) -> dict[str, Any]:
        run_id = clean_text(run_id)
        rows = self._rows(
            "read attachments",
            "SELECT key, data_json FROM attachments WHERE run_id = %s ORDER BY key",
            run_id,
        )
        return {str(r[0]): loads_blob(r[1], f"attachment {r[0]!r}", run_id, self.url) for r in rows}

    def overlapping_runs(self, run: RunRecord) -> list[RunRecord]:
        """Other runs on ``run``'s host (``machine_id``, else ``hostname``) overlapping it."""
        from carbonledger.lifecycle.sharing import host_key, runs_overlap

        if host_key(run.host) is None:
            return []
        now = time.time()
        end = run.ended_at if run.ended_at is not None else now

        def query(cur: Any) -> tuple[list[RunRecord], list[CorruptRunError]]:
            cur.execute(
                f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id <> %s AND started_at < %s "
                "AND COALESCE(ended_at, %s) > %s ORDER BY started_at, run_id",
                (run.run_id, end, now, run.started_at),
            )
            return _decode_runs(cur.fetchall(), self.url)

        found, _bad = self._tx("find overlapping runs", query)
        if self._settle(found):
            found, _bad = self._tx("find overlapping runs", query)
        return [r for r in found if runs_overlap(run, r, now=now)]

    # -- lifetime ------------------------------------------------------------------
    def close(self) -> None:
        """Close the pool (idempotent)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            try:
                pool.close(timeout=self._timeout_s)
            except Exception as exc:  # closing never fails a caller
                log.debug("ledger %s: closing the pool: %s", self.url, self._scrub(exc))

    def __enter__(self) -> PostgresLedger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PostgresLedger({self.url!r})"


def open_postgres_url(
    url: str,
    *,
    stale_after_s: float = DEFAULT_STALE_AFTER_S,
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
    pool_size: int = DEFAULT_POOL_SIZE,
    verify: bool | Sequence[str] = False,
    **_sqlite_only: Any,
) -> PostgresLedger:
    """The registry's factory for ``postgresql://`` and ``postgres://`` URLs.

    Returns the database itself; a tracker writes through
    :class:`carbonledger.store.spool.SpoolingLedger` instead (see there).
    """
    del verify  # the server checks its own pages; nothing more to verify on open
    return PostgresLedger(
        url, stale_after_s=stale_after_s, connect_timeout_s=connect_timeout_s, pool_size=pool_size
    )


# -- helpers ---------------------------------------------------------------------------
class _OurPoolFilter(logging.Filter):
    """Drops the pool's own multi-line reconnection warnings for carbonledger's pools:
    the ledger says once, on one line, that the database is unreachable."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "'carbonledger'" not in record.getMessage()


_FILTER = _OurPoolFilter()


def _quiet_pool_logs() -> None:
    pool_log = logging.getLogger("psycopg.pool")
    if _FILTER not in pool_log.filters:
        pool_log.addFilter(_FILTER)


def _marks(n: int) -> str:
    return ", ".join(["%s"] * n)


def _metric_text(stored: Any) -> str | None:
    """Metric values are kept as text: exact for ints of any size and floats (repr)."""
    if stored is None:
        return None
    if isinstance(stored, float):
        return repr(stored)
    return str(stored)


def _metric_value(kind: Any, text: Any) -> Any:
    """The stored text back as the value ``decode_metric`` expects for ``kind``."""
    if not isinstance(text, str):
        return text
    try:
        if kind in ("int", "bool"):
            return int(text)
        if kind == "float":
            return float(text)
    except ValueError:
        return text  # decode_metric_row reports it as damage
    return text


def _decode_runs(
    rows: Iterable[Sequence[Any]], where: str
) -> tuple[list[RunRecord], list[CorruptRunError]]:
    good: list[RunRecord] = []
    bad: list[CorruptRunError] = []
    for r in rows:
        try:
            good.append(decode_run(r, where))
        except CorruptRunError as exc:
            bad.append(exc)
    return good, bad
