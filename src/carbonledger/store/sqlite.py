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
``verify=True`` (what reading commands use) also runs ``PRAGMA quick_check``.
"""

from __future__ import annotations

import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from carbonledger.errors import CorruptRunError, LedgerError, RunNotFoundError
from carbonledger.records import DeviceInfo, RunRecord, RunStatus, Sample, SpanRecord
from carbonledger.store import _schema
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
from carbonledger.store.base import BadRowHandler, MetricValue, warn_bad_row
from carbonledger.store.liveness import DEFAULT_STALE_AFTER_S, tracker_gone
from carbonledger.store.sqlite_aggregates import SqlAggregates, _marks

if TYPE_CHECKING:
    from carbonledger.intensity.series import IntensitySeries
    from carbonledger.serving.rows import RequestRow

_REQUEST_COLUMNS = (
    "request_id",
    "route",
    "http_method",
    "status",
    "outcome",
    "started_at",
    "ended_at",
    "latency_s",
    "tokens",
    "energy_j",
    "carbon_g",
    "attribution",
    "uncertainty_rel",
)


def _request_values(row: RequestRow) -> tuple[Any, ...]:
    data = row.to_dict()
    values = (data[c] for c in _REQUEST_COLUMNS)
    return tuple(clean_text(v) if isinstance(v, str) else v for v in values)


__all__ = [
    "DEFAULT_BUSY_TIMEOUT_S",
    "DEFAULT_RETRY_S",
    "DEFAULT_STALE_AFTER_S",
    "EnergyTotal",
    "SqliteLedger",
    "open_sqlite",
    "open_sqlite_url",
    "tracker_gone",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_BUSY_TIMEOUT_S = 5.0
"""SQLite's own wait for a lock, per attempt."""
DEFAULT_RETRY_S = 60.0
"""The longest a read or write keeps retrying a busy or locked database."""

_FIRST_BACKOFF_S = 0.005
_MAX_BACKOFF_S = 0.5
_CANDIDATES_SHOWN = 5
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6  # primary result codes (sqlite.org/rescode.html)


@dataclass(frozen=True)
class EnergyTotal:
    """One device's energy summed over a run's samples.

    SQL ``SUM`` semantics: a sum over the known (non-NULL) samples; ``None`` only when no
    sample of the device is known. ``missing_*`` count the samples whose value is unknown
    and ``missing_s`` is the time they cover, so a caller can see how much a total
    understates (a partial sum is a lower bound, never filled in with a guess).
    """

    device_id: str
    host_energy_j: float | None
    energy_j: float | None
    samples: int
    missing_host_samples: int
    missing_samples: int
    missing_s: float


# -- the ledger ------------------------------------------------------------------------
class SqliteLedger(SqlAggregates):
    """A :class:`~carbonledger.store.base.Ledger` in one SQLite file.

    One connection per object, guarded by a lock: safe to share between threads, not
    across ``fork`` (open a new one in the child). Every sqlite3 error is raised as
    :class:`~carbonledger.errors.LedgerError` naming the file.
    """

    def __init__(
        self,
        path: Path,
        *,
        stale_after_s: float = DEFAULT_STALE_AFTER_S,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
        retry_s: float = DEFAULT_RETRY_S,
        verify: bool = False,
    ) -> None:
        self.path = Path(path).expanduser()
        self.stale_after_s = float(stale_after_s)
        self._busy_timeout_s = float(busy_timeout_s)
        self._retry_s = float(retry_s)
        self._lock = threading.RLock()
        self.busy_retries = 0
        """How often a busy or locked database was retried (for diagnostics)."""
        self._hostname = os.uname().nodename
        if self.path.is_dir():
            raise LedgerError(f"ledger {self.path} is a directory, not a file")
        try:
            conn = sqlite3.connect(
                str(self.path),
                timeout=self._busy_timeout_s,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise _ledger_error(self.path, "open", exc) from exc
        # text that is not UTF-8 (written by another tool) reads as \xNN escapes, not an error
        conn.text_factory = _decode_text
        self._conn: sqlite3.Connection | None = conn
        try:
            self._setup(verify=verify)
        except BaseException:
            self.close()
            raise

    def _setup(self, *, verify: bool) -> None:
        def configure(conn: sqlite3.Connection) -> str:
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_s * 1000)}")
            _schema.read_version(conn)  # fails early on a file that is not a database
            mode = str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower()
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            return mode

        mode = self._retrying("open", configure, transaction=None)
        if mode != "wal":
            log.warning("ledger %s: journal mode is %s, not wal (filesystem?)", self.path, mode)

        def current(conn: sqlite3.Connection) -> bool:
            app_id, version = _schema.read_version(conn)
            _schema.check_version(self.path, app_id, version, conn, _schema.SCHEMA_VERSION)
            return app_id == _schema.APPLICATION_ID and version == _schema.SCHEMA_VERSION

        if not self._retrying("check schema", current, transaction="BEGIN"):
            self._retrying(
                "migrate",
                lambda conn: _schema.migrate(conn, self.path),
                transaction="BEGIN IMMEDIATE",
            )
        missing = self._retrying("check tables", _schema.missing_tables, transaction="BEGIN")
        if missing:
            raise LedgerError(
                f"ledger {self.path} is damaged: table {', '.join(missing)} is missing "
                "(restore it from a backup)"
            )
        if verify:
            self.check()

    def check(self) -> None:
        """Run SQLite's ``quick_check``; LedgerError "ledger PATH is damaged" on a problem.

        It reads the whole file (about a second per few hundred MB): reading commands use
        it, a tracker starting a run does not.
        """

        def quick_check(conn: sqlite3.Connection) -> list[str]:
            return [str(r[0]) for r in conn.execute("PRAGMA quick_check(100)")]

        # a row that breaks a CHECK or NOT NULL rule is one bad row, which readers skip
        # and report; damage is what is left (pages, indexes, structure)
        found = [
            line
            for line in self._retrying("check integrity", quick_check, transaction=None)
            if not line.startswith(("CHECK constraint failed", "NULL value in"))
        ]
        if found and found != ["ok"]:
            detail = "; ".join(found[:3]).replace("\n", " ")
            raise LedgerError(f"ledger {self.path} is damaged: {detail}")

    # -- plumbing ------------------------------------------------------------------
    def _retrying(
        self,
        action: str,
        fn: Callable[[sqlite3.Connection], T],
        *,
        transaction: str | None,
    ) -> T:
        """Run ``fn`` (in a transaction unless None), retrying busy/locked errors."""
        with self._lock:
            conn = self._conn
            if conn is None:
                raise LedgerError(f"ledger {self.path} is closed")
            deadline = time.monotonic() + self._retry_s
            delay = _FIRST_BACKOFF_S
            while True:
                try:
                    if transaction is None:
                        return fn(conn)
                    conn.execute(transaction)
                    try:
                        result = fn(conn)
                        conn.execute("COMMIT")
                    except BaseException:
                        if conn.in_transaction:
                            try:
                                conn.execute("ROLLBACK")
                            except sqlite3.Error:
                                log.debug("ledger %s: rollback failed", self.path, exc_info=True)
                        raise
                    return result
                except sqlite3.Error as exc:
                    remaining = deadline - time.monotonic()
                    if not _is_busy(exc) or remaining <= 0:
                        raise _ledger_error(self.path, action, exc) from exc
                    self.busy_retries += 1
                    time.sleep(min(remaining, delay * random.uniform(0.5, 1.5)))
                    delay = min(delay * 2, _MAX_BACKOFF_S)

    def _write(self, action: str, fn: Callable[[sqlite3.Connection], T]) -> T:
        return self._retrying(action, fn, transaction="BEGIN IMMEDIATE")

    def _read(self, action: str, fn: Callable[[sqlite3.Connection], T]) -> T:
        return self._retrying(action, fn, transaction="BEGIN")

    def _require_run(self, conn: sqlite3.Connection, run_id: str) -> None:
        if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone() is None:
            raise RunNotFoundError(f"no run {run_id!r} in ledger {self.path}")

    # -- writes --------------------------------------------------------------------
    def create_run(self, run: RunRecord, devices: Sequence[DeviceInfo]) -> None:
        """Store a new run and its devices; an existing run id raises LedgerError.

        Text that is not valid UTF-8 is stored with ``\\xNN`` escapes (see clean_text).
        """
        encoded = encode_run(run)
        row = tuple(encoded[f] for f in RUN_FIELDS)
        run_id = encoded["run_id"]
        device_rows = [encode_device(run.run_id, i, d) for i, d in enumerate(devices)]

        def insert(conn: sqlite3.Connection) -> None:
            if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone():
                raise LedgerError(f"run {run_id!r} already exists in ledger {self.path}")
            conn.execute(
                f"INSERT INTO runs ({RUN_COLUMNS}) VALUES ({_marks(len(RUN_FIELDS))})", row
            )
            conn.executemany(
                "INSERT INTO devices (run_id, position, device_id, component, name, method, "
                f"source, uncertainty_rel, details_json) VALUES ({_marks(9)})",
                device_rows,
            )

        self._write("create run", insert)

    def append_samples(self, run_id: str, samples: Sequence[Sample], heartbeat_at: float) -> None:
        """Add samples and refresh the heartbeat in one committed transaction.

        A run the ledger had concluded was interrupted is running again: its tracker
        has just proved it is alive.
        """
        run_id = clean_text(run_id)
        rows = [encode_sample(run_id, s) for s in samples]

        def append(conn: sqlite3.Connection) -> None:
            cur = conn.execute(
                "UPDATE runs SET heartbeat_at = MAX(COALESCE(heartbeat_at, :hb), :hb), "
                "status = CASE WHEN interrupted_inferred_at IS NULL THEN status "
                "ELSE 'running' END, "
                "ended_at = CASE WHEN interrupted_inferred_at IS NULL THEN ended_at END, "
                "interrupted_inferred_at = NULL WHERE run_id = :id",
                {"hb": heartbeat_at, "id": run_id},
            )
            if cur.rowcount == 0:
                raise RunNotFoundError(f"no run {run_id!r} in ledger {self.path}")
            conn.executemany(
                "INSERT INTO samples (run_id, device_id, t_start, t_end, host_energy_j, "
                "energy_j) VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )

        self._write("append samples", append)

    def add_span(self, run_id: str, span: SpanRecord) -> None:
        """Store one span (spans of the same path may repeat)."""
        row = encode_span(run_id, span)
        run_id = row[0]

        def insert(conn: sqlite3.Connection) -> None:
            self._require_run(conn, run_id)
            conn.execute(
                "INSERT INTO spans (run_id, path, started_at, ended_at, energy_json, "
                "host_energy_json) VALUES (?, ?, ?, ?, ?, ?)",
                row,
            )

        self._write("add span", insert)

    def log_metrics(self, run_id: str, metrics: Mapping[str, MetricValue]) -> None:
        """Store metrics; a name logged again keeps its last value (``step`` counts logs)."""
        logged_at = time.time()
        run_id = clean_text(run_id)
        rows = [
            (run_id, clean_text(str(name)), *encode_metric(str(name), value), logged_at)
            for name, value in metrics.items()
        ]

        def upsert(conn: sqlite3.Connection) -> None:
            self._require_run(conn, run_id)
            conn.executemany(
                "INSERT INTO metrics (run_id, name, kind, value, step, logged_at) "
                "VALUES (?, ?, ?, ?, 1, ?) ON CONFLICT (run_id, name) DO UPDATE SET "
                "kind = excluded.kind, value = excluded.value, step = metrics.step + 1, "
                "logged_at = excluded.logged_at",
                rows,
            )

        self._write("log metrics", upsert)

    def set_functional_unit(self, run_id: str, name: str, count: float) -> None:
        """The run's functional unit (SCI's R), e.g. ``("images", 1.2e6)``."""
        run_id = clean_text(run_id)

        def update(conn: sqlite3.Connection) -> None:
            cur = conn.execute(
                "UPDATE runs SET functional_unit_name = ?, functional_unit_count = ? "
                "WHERE run_id = ?",
                (clean_text(name), count, run_id),
            )
            if cur.rowcount == 0:
                raise RunNotFoundError(f"no run {run_id!r} in ledger {self.path}")

        self._write("set functional unit", update)

    def put_series(self, run_id: str, series: IntensitySeries) -> None:
        """Keep the run's intensity series (its ``to_dict`` as JSON), replacing any earlier."""
        run_id = clean_text(run_id)
        text = dumps(series.to_dict(), "intensity series", run_id)

        def upsert(conn: sqlite3.Connection) -> None:
            self._require_run(conn, run_id)
            conn.execute(
                "INSERT INTO series (run_id, series_json) VALUES (?, ?) "
                "ON CONFLICT (run_id) DO UPDATE SET series_json = excluded.series_json",
                (run_id, text),
            )

        self._write("put series", upsert)

    def put_attachment(self, run_id: str, key: str, data: Mapping[str, Any]) -> None:
        """Keep a JSON object under ``key``, replacing an earlier one of that key."""
        run_id, key = clean_text(run_id), clean_text(str(key))
        text = dumps(_as_object(data, key, run_id), f"attachment {key!r}", run_id)

        def upsert(conn: sqlite3.Connection) -> None:
            self._require_run(conn, run_id)
            conn.execute(
                "INSERT INTO attachments (run_id, key, data_json) VALUES (?, ?, ?) "
                "ON CONFLICT (run_id, key) DO UPDATE SET data_json = excluded.data_json",
                (run_id, key, text),
            )

        self._write("put attachment", upsert)

    def append_requests(self, run_id: str, rows: Sequence[RequestRow]) -> None:
        """Add a batch of per-request rows (carbonledger.serving) in one transaction."""
        run_id = clean_text(run_id)
        values = [(run_id, *_request_values(r)) for r in rows]

        def insert(conn: sqlite3.Connection) -> None:
            self._require_run(conn, run_id)
            conn.executemany(
                f"INSERT INTO requests (run_id, {', '.join(_REQUEST_COLUMNS)}) "
                f"VALUES ({_marks(len(_REQUEST_COLUMNS) + 1)})",
                values,
            )

        self._write("append requests", insert)

    def requests(self, run_id: str) -> list[RequestRow]:
        """The run's per-request rows, in the order they were appended."""
        from carbonledger.serving.rows import row_from_dict

        run_id = clean_text(run_id)

        def query(conn: sqlite3.Connection) -> list[RequestRow]:
            self._require_run(conn, run_id)
            rows = conn.execute(
                f"SELECT {', '.join(_REQUEST_COLUMNS)} FROM requests WHERE run_id = ? ORDER BY id",
                (run_id,),
            ).fetchall()
            where = f"ledger {self.path} run {run_id}"
            return [
                row_from_dict(dict(zip(_REQUEST_COLUMNS, r, strict=True)), f"{where} request {i}")
                for i, r in enumerate(rows)
            ]

        return self._read("read requests", query)

    def finish_run(
        self, run_id: str, status: RunStatus, ended_at: float, exit_code: int | None = None
    ) -> None:
        """Close a run; the tracker's word overrides an earlier inferred interruption."""
        status_text = RunStatus(status).value
        run_id = clean_text(run_id)

        def update(conn: sqlite3.Connection) -> None:
            cur = conn.execute(
                "UPDATE runs SET status = ?, ended_at = ?, exit_code = ?, "
                "interrupted_inferred_at = NULL WHERE run_id = ?",
                (status_text, ended_at, exit_code, run_id),
            )
            if cur.rowcount == 0:
                raise RunNotFoundError(f"no run {run_id!r} in ledger {self.path}")

        self._write("finish run", update)

    # -- reads ---------------------------------------------------------------------
    def get_run(self, run_id_or_prefix: str) -> RunRecord:
        """A run by exact id or unique prefix; a run whose tracker died reads as interrupted.

        Raises RunNotFoundError for no match or an ambiguous prefix (naming up to five).
        """
        key = clean_text(run_id_or_prefix.strip())
        if not key:
            raise RunNotFoundError(f"empty run id for ledger {self.path}")
        where = str(self.path)
        limit = _CANDIDATES_SHOWN + 1

        def find(conn: sqlite3.Connection) -> RunRecord:
            row = conn.execute(
                f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?", (key,)
            ).fetchone()
            if row is not None:
                return decode_run(row, where)
            # a range on the primary key (its index), not a scan of every run
            upper = _successor(key)
            rows = conn.execute(
                f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id >= ? "
                + ("AND run_id < ? " if upper is not None else "")
                + "AND substr(run_id, 1, ?) = ? ORDER BY started_at DESC, run_id LIMIT ?",
                (key, *([upper] if upper is not None else []), len(key), key, limit),
            ).fetchall()
            if not rows:
                raise RunNotFoundError(f"no run matches {key!r} in ledger {self.path}")
            if len(rows) > 1:
                shown = ", ".join(f"{r[0]} ({r[1]})" for r in rows[:_CANDIDATES_SHOWN])
                more = ", …" if len(rows) > _CANDIDATES_SHOWN else ""
                raise RunNotFoundError(
                    f"run id prefix {key!r} is ambiguous in ledger {self.path}: {shown}{more}"
                )
            return decode_run(rows[0], where)

        run = self._read("read run", find)
        if self._settle([run]):
            run = self._read("read run", find)
        return run

    def job_runs(self, job_key: str, *, on_bad_row: BadRowHandler | None = None) -> list[RunRecord]:
        """The runs of one distributed job, oldest first (an indexed look-up)."""
        return self._select_runs(
            "list job runs",
            f"SELECT {RUN_COLUMNS} FROM runs WHERE job_key = ? ORDER BY started_at, rowid",
            (job_key,),
            on_bad_row,
        )

    def list_runs(self, *, on_bad_row: BadRowHandler | None = None) -> list[RunRecord]:
        """Every readable run, newest first (by start time).

        A run whose row is damaged is left out and given to ``on_bad_row`` (default: one
        logged warning each).
        """
        return self._select_runs(
            "list runs",
            f"SELECT {RUN_COLUMNS} FROM runs ORDER BY started_at DESC, rowid DESC",
            (),
            on_bad_row,
        )

    def _select_runs(
        self,
        action: str,
        sql: str,
        params: Sequence[Any],
        on_bad_row: BadRowHandler | None,
    ) -> list[RunRecord]:
        """The readable runs ``sql`` selects (liveness settled); damaged rows are left out
        and given to ``on_bad_row`` (default: one logged warning each)."""
        where = str(self.path)

        def query(conn: sqlite3.Connection) -> tuple[list[RunRecord], list[CorruptRunError]]:
            good: list[RunRecord] = []
            bad: list[CorruptRunError] = []
            for r in conn.execute(sql, tuple(params)).fetchall():
                try:
                    good.append(decode_run(r, where))
                except CorruptRunError as exc:
                    bad.append(exc)
            return good, bad

        runs, bad = self._read(action, query)
        if self._settle(runs):
            runs, bad = self._read(action, query)
        report = warn_bad_row if on_bad_row is None else on_bad_row
        for error in bad:
            report(error)
        return runs

    def _settle(self, runs: Iterable[RunRecord]) -> bool:
        """Mark running runs whose tracker is gone as interrupted; True if any changed."""
        now = time.time()
        gone = [
            r
            for r in runs
            if tracker_gone(r, now=now, stale_after_s=self.stale_after_s, hostname=self._hostname)
        ]
        if not gone:
            return False

        def mark(conn: sqlite3.Connection) -> int:
            changed = 0
            for r in gone:
                # compare-and-set on the heartbeat: a tracker that wrote meanwhile is alive
                cur = conn.execute(
                    "UPDATE runs SET status = 'interrupted', interrupted_inferred_at = :now, "
                    "ended_at = MAX(started_at, COALESCE(heartbeat_at, started_at), "
                    "COALESCE((SELECT MAX(t_end) FROM samples WHERE run_id = :id), started_at)) "
                    "WHERE run_id = :id AND status = 'running' AND heartbeat_at IS :hb",
                    {"now": now, "id": r.run_id, "hb": r.heartbeat_at},
                )
                changed += cur.rowcount
            return changed

        changed = self._write("mark interrupted runs", mark)
        for r in gone:
            log.info("ledger %s: run %s's tracker is gone; marked interrupted", self.path, r.run_id)
        return changed > 0

    def devices(self, run_id: str) -> list[DeviceInfo]:
        """The run's devices, in the order they were given to ``create_run``."""

        run_id = clean_text(run_id)

        def query(conn: sqlite3.Connection) -> list[DeviceInfo]:
            self._require_run(conn, run_id)
            rows = conn.execute(
                "SELECT device_id, component, name, method, source, uncertainty_rel, "
                "details_json FROM devices WHERE run_id = ? ORDER BY position",
                (run_id,),
            ).fetchall()
            return [decode_device(r, run_id, str(self.path)) for r in rows]

        return self._read("read devices", query)

    def samples(self, run_id: str) -> list[Sample]:
        """The run's samples in the order they were appended; unknown values stay None."""

        run_id = clean_text(run_id)

        def query(conn: sqlite3.Connection) -> list[Sample]:
            self._require_run(conn, run_id)
            rows = conn.execute(
                "SELECT device_id, t_start, t_end, host_energy_j, energy_j FROM samples "
                "WHERE run_id = ? ORDER BY id",
                (run_id,),
            ).fetchall()
            where = str(self.path)
            return [decode_sample(r, run_id, i, where) for i, r in enumerate(rows)]

        return self._read("read samples", query)

    def spans(self, run_id: str) -> list[SpanRecord]:
        """The run's spans in the order they were added."""

        run_id = clean_text(run_id)

        def query(conn: sqlite3.Connection) -> list[SpanRecord]:
            self._require_run(conn, run_id)
            rows = conn.execute(
                "SELECT path, started_at, ended_at, energy_json, host_energy_json FROM spans "
                "WHERE run_id = ? ORDER BY id",
                (run_id,),
            ).fetchall()
            return [decode_span(r, run_id, str(self.path)) for r in rows]

        return self._read("read spans", query)

    def metrics(self, run_id: str) -> dict[str, MetricValue]:
        """The last value logged under each name, with its type (int, float, str, bool)."""

        run_id = clean_text(run_id)

        def query(conn: sqlite3.Connection) -> dict[str, MetricValue]:
            self._require_run(conn, run_id)
            rows = conn.execute(
                "SELECT name, kind, value FROM metrics WHERE run_id = ? ORDER BY name",
                (run_id,),
            ).fetchall()
            where = str(self.path)
            return {r[0]: decode_metric_row(r[0], r[1], r[2], run_id, where) for r in rows}

        return self._read("read metrics", query)

    def functional_unit(self, run_id: str) -> tuple[str, float] | None:
        """``(name, count)`` or None when none was set."""
        run_id = clean_text(run_id)

        def query(conn: sqlite3.Connection) -> tuple[str, float] | None:
            row = conn.execute(
                "SELECT functional_unit_name, functional_unit_count FROM runs WHERE run_id = ?",
                (run_id,),
            ).fetchone()
            if row is None:
                raise RunNotFoundError(f"no run {run_id!r} in ledger {self.path}")
            if row[0] is None or row[1] is None:
                return None
            return _functional_unit(row[0], row[1], run_id, str(self.path))

        return self._read("read functional unit", query)

    def series(self, run_id: str) -> IntensitySeries | None:
        """The series kept with :meth:`put_series`, or None."""
        run_id = clean_text(run_id)

        def query(conn: sqlite3.Connection) -> Any:
            self._require_run(conn, run_id)
            row = conn.execute(
                "SELECT series_json FROM series WHERE run_id = ?", (run_id,)
            ).fetchone()
            return None if row is None else row[0]

        text = self._read("read series", query)
        return None if text is None else series_from_json(text, run_id, str(self.path))

    def attachments(self, run_id: str) -> dict[str, Any]:
        """Every attachment of the run, key -> JSON object (keys in sorted order)."""
        run_id = clean_text(run_id)

        def query(conn: sqlite3.Connection) -> dict[str, Any]:
            self._require_run(conn, run_id)
            rows = conn.execute(
                "SELECT key, data_json FROM attachments WHERE run_id = ? ORDER BY key",
                (run_id,),
            ).fetchall()
            where = str(self.path)
            return {
                str(r[0]): loads_blob(r[1], f"attachment {r[0]!r}", run_id, where) for r in rows
            }

        return self._read("read attachments", query)

    def energy_totals(self, run_id: str) -> dict[str, EnergyTotal]:
        """Per device: sums over samples with counts of unknown ones (see EnergyTotal).

        Every device of the run appears, in ``create_run`` order, then any device that
        only has samples; a device without samples has ``None`` totals.
        """

        run_id = clean_text(run_id)

        def query(conn: sqlite3.Connection) -> dict[str, EnergyTotal]:
            self._require_run(conn, run_id)
            sums = {
                r[0]: r[1:]
                for r in conn.execute(
                    "SELECT device_id, SUM(host_energy_j), SUM(energy_j), COUNT(*), "
                    "COUNT(*) - COUNT(host_energy_j), COUNT(*) - COUNT(energy_j), "
                    "TOTAL(CASE WHEN energy_j IS NULL THEN t_end - t_start END) "
                    "FROM samples WHERE run_id = ? GROUP BY device_id",
                    (run_id,),
                )
            }
            order = [
                r[0]
                for r in conn.execute(
                    "SELECT device_id FROM devices WHERE run_id = ? ORDER BY position", (run_id,)
                )
            ]
            order += sorted(d for d in sums if d not in set(order))
            totals: dict[str, EnergyTotal] = {}
            for device_id in order:
                host, energy, count, miss_host, miss, miss_s = sums.get(
                    device_id, (None, None, 0, 0, 0, 0.0)
                )
                totals[device_id] = EnergyTotal(
                    device_id=device_id,
                    host_energy_j=None if host is None else float(host),
                    energy_j=None if energy is None else float(energy),
                    samples=int(count),
                    missing_host_samples=int(miss_host),
                    missing_samples=int(miss),
                    missing_s=float(miss_s),
                )
            return totals

        return self._read("sum samples", query)

    def totals(self, run_id: str) -> dict[str, tuple[float | None, float | None]]:
        """Per device ``(Σ host_energy_j, Σ energy_j)`` over known samples; see energy_totals."""
        return {
            device_id: (t.host_energy_j, t.energy_j)
            for device_id, t in self.energy_totals(run_id).items()
        }

    # -- lifetime ------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except sqlite3.Error as exc:
                raise _ledger_error(self.path, "close", exc) from exc

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

    # -- runs sharing a host (lifecycle/sharing.py) ----------------------------------
    def overlapping_runs(self, run: RunRecord) -> list[RunRecord]:
        """Other runs on ``run``'s host (its ``machine_id``, else ``hostname``) whose time
        overlaps it; a run without an end (still running) counts up to now. Oldest first.
        """

        def host(r: RunRecord) -> str | None:
            key = r.host.get("machine_id") or r.host.get("hostname")
            return str(key) if key else None

        key = host(run)
        if key is None:
            return []
        now = time.time()
        params = {
            "id": run.run_id,
            "start": run.started_at,
            "end": run.ended_at if run.ended_at is not None else now,
            "now": now,
        }

        def query(conn: sqlite3.Connection) -> list[RunRecord]:
            rows = conn.execute(
                f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id != :id AND started_at < :end "
                "AND COALESCE(ended_at, :now) > :start ORDER BY started_at, rowid",
                params,
            ).fetchall()
            found = []
            for row in rows:
                try:
                    other = decode_run(row, str(self.path))
                except CorruptRunError:
                    continue  # a damaged row is reported by listings, not here
                if host(other) == key:
                    found.append(other)
            return found

        runs = self._read("find overlapping runs", query)
        if self._settle(runs):
            runs = self._read("find overlapping runs", query)
        return runs


def open_sqlite(
    path: str | os.PathLike[str],
    *,
    stale_after_s: float = DEFAULT_STALE_AFTER_S,
    busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
    retry_s: float = DEFAULT_RETRY_S,
    verify: bool = False,
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


# -- helpers ---------------------------------------------------------------------------
def _successor(key: str) -> str | None:
    """The smallest string greater than every string that starts with ``key`` (None: no
    such string), in SQLite's BINARY order (UTF-8 bytes, which follow code points)."""
    while key:
        last = ord(key[-1])
        if last < 0x10FFFF:
            nxt = last + 1 if not 0xD800 <= last + 1 <= 0xDFFF else 0xE000
            return key[:-1] + chr(nxt)
        key = key[:-1]
    return None


def _decode_text(data: bytes) -> str:
    return clean_text(data.decode("utf-8", "surrogateescape"))


def _as_object(data: Mapping[str, Any], key: str, run_id: str) -> dict[str, Any]:
    from carbonledger.errors import DataError

    if not isinstance(data, Mapping):
        raise DataError(f"run {run_id}: attachment {key!r} must be a mapping (a JSON object)")
    return dict(data)


def _functional_unit(name: Any, count: Any, run_id: str, where: str) -> tuple[str, float]:
    if not isinstance(name, str) or isinstance(count, bool) or not isinstance(count, (int, float)):
        raise CorruptRunError(
            f"ledger {where}: run {run_id} is damaged: functional unit {name!r}, {count!r}",
            run_id=run_id,
            field="functional_unit",
        )
    return name, float(count)


def series_from_json(text: Any, run_id: str, where: str) -> IntensitySeries:
    """A stored series back, or CorruptRunError naming the run."""
    from carbonledger.errors import DataError
    from carbonledger.intensity.series import IntensitySeries

    data = loads_blob(text, "series", run_id, where)
    try:
        if not isinstance(data, dict):
            raise DataError("not a JSON object")
        return IntensitySeries.from_dict(data)
    except DataError as exc:
        raise CorruptRunError(
            f"ledger {where}: run {run_id} is damaged: series {exc}", run_id=run_id, field="series"
        ) from None


def _is_busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _ledger_error(path: Path, action: str, exc: sqlite3.Error) -> LedgerError:
    """The one place sqlite3 errors become LedgerError (one line, naming the file)."""
    text = " ".join(str(exc).split())
    if isinstance(exc, sqlite3.DatabaseError) and "not a database" in text:
        return LedgerError(f"{path} is not an SQLite database (a ledger file is expected)")
    if isinstance(exc, sqlite3.DatabaseError) and (
        "malformed" in text or "corrupt" in text or "no such table" in text
    ):
        return LedgerError(f"ledger {path} is damaged: {text} ({action}; restore it from a backup)")
    if "unable to open" in text:
        return LedgerError(f"cannot open ledger {path}: {text} (check the path and permissions)")
    if "readonly" in text:
        return LedgerError(f"cannot write ledger {path}: it is read-only ({text})")
    if isinstance(exc, sqlite3.IntegrityError):
        return LedgerError(f"ledger {path}: {action} rejected: {text}")
    return LedgerError(f"ledger {path}: {action} failed: {text}")
