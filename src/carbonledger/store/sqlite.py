"""The SQLite ledger: one file, many writers, every write one committed transaction.

Standard library ``sqlite3`` only. The file runs in WAL mode with ``synchronous=NORMAL``:
a committed write survives the writing process being killed (``kill -9``); a power loss
or OS crash may lose the last few commits (sqlite.org/pragma.html#pragma_synchronous).
Writers take the write lock up front (``BEGIN IMMEDIATE``) and retry ``SQLITE_BUSY`` with
jittered exponential back-off for up to ``retry_s`` seconds, on top of SQLite's own busy
timeout, so many processes can write one ledger at once.

A ``RUNNING`` run whose tracker is gone reads as ``INTERRUPTED`` (see :func:`tracker_gone`);
the ledger writes that conclusion back so every later read agrees.
"""

from __future__ import annotations

import json
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
from typing import TypeVar

from carbonledger.errors import LedgerError, RunNotFoundError
from carbonledger.records import (
    Component,
    DeviceInfo,
    Method,
    RunRecord,
    RunStatus,
    Sample,
    Scope,
    SpanRecord,
)
from carbonledger.store import _schema
from carbonledger.store._rows import (
    RUN_COLUMNS,
    decode_metric,
    dumps,
    encode_metric,
    run_from_row,
)
from carbonledger.store.base import MetricValue
from carbonledger.store.liveness import DEFAULT_STALE_AFTER_S, tracker_gone

__all__ = [
    "DEFAULT_BUSY_TIMEOUT_S",
    "DEFAULT_RETRY_S",
    "DEFAULT_STALE_AFTER_S",
    "EnergyTotal",
    "SqliteLedger",
    "open_ledger",
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
class SqliteLedger:
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
        self._conn: sqlite3.Connection | None = conn
        try:
            self._setup()
        except BaseException:
            self.close()
            raise

    def _setup(self) -> None:
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
        """Store a new run and its devices; an existing run id raises LedgerError."""
        row = (
            run.run_id,
            run.name,
            run.phase,
            RunStatus(run.status).value,
            run.started_at,
            run.ended_at,
            Scope(run.scope).value,
            run.zone,
            run.pue,
            run.interval_s,
            dumps(run.host, "host", run.run_id),
            dumps(run.tags, "tags", run.run_id),
            run.exit_code,
            run.pid,
            run.heartbeat_at,
            dumps(run.settings, "settings", run.run_id),
        )
        device_rows = [
            (
                run.run_id,
                position,
                d.device_id,
                Component(d.component).value,
                d.name,
                Method(d.method).value,
                d.source,
                d.uncertainty_rel,
                dumps(d.details, f"device {d.device_id} details", run.run_id),
            )
            for position, d in enumerate(devices)
        ]

        def insert(conn: sqlite3.Connection) -> None:
            if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run.run_id,)).fetchone():
                raise LedgerError(f"run {run.run_id!r} already exists in ledger {self.path}")
            conn.execute(f"INSERT INTO runs ({RUN_COLUMNS}) VALUES ({_marks(16)})", row)
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
        rows = [
            (run_id, s.device_id, s.t_start, s.t_end, s.host_energy_j, s.energy_j) for s in samples
        ]

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
        row = (
            run_id,
            span.path,
            span.started_at,
            span.ended_at,
            dumps(span.energy_j, f"span {span.path} energy", run_id),
            dumps(span.host_energy_j, f"span {span.path} host energy", run_id),
        )

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
        rows = [
            (run_id, str(name), *encode_metric(str(name), value), logged_at)
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

        def update(conn: sqlite3.Connection) -> None:
            cur = conn.execute(
                "UPDATE runs SET functional_unit_name = ?, functional_unit_count = ? "
                "WHERE run_id = ?",
                (name, count, run_id),
            )
            if cur.rowcount == 0:
                raise RunNotFoundError(f"no run {run_id!r} in ledger {self.path}")

        self._write("set functional unit", update)

    def finish_run(
        self, run_id: str, status: RunStatus, ended_at: float, exit_code: int | None = None
    ) -> None:
        """Close a run; the tracker's word overrides an earlier inferred interruption."""
        status_text = RunStatus(status).value

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
        key = run_id_or_prefix.strip()
        if not key:
            raise RunNotFoundError(f"empty run id for ledger {self.path}")

        def find(conn: sqlite3.Connection) -> RunRecord:
            row = conn.execute(
                f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?", (key,)
            ).fetchone()
            if row is not None:
                return run_from_row(row)
            rows = conn.execute(
                f"SELECT {RUN_COLUMNS} FROM runs WHERE substr(run_id, 1, ?) = ? "
                "ORDER BY started_at DESC, run_id LIMIT ?",
                (len(key), key, _CANDIDATES_SHOWN + 1),
            ).fetchall()
            if not rows:
                raise RunNotFoundError(f"no run matches {key!r} in ledger {self.path}")
            if len(rows) > 1:
                shown = ", ".join(f"{r[0]} ({r[1]})" for r in rows[:_CANDIDATES_SHOWN])
                more = ", …" if len(rows) > _CANDIDATES_SHOWN else ""
                raise RunNotFoundError(
                    f"run id prefix {key!r} is ambiguous in ledger {self.path}: {shown}{more}"
                )
            return run_from_row(rows[0])

        run = self._read("read run", find)
        if self._settle([run]):
            run = self._read("read run", find)
        return run

    def list_runs(self) -> list[RunRecord]:
        """Every run, newest first (by start time)."""

        def everything(conn: sqlite3.Connection) -> list[RunRecord]:
            rows = conn.execute(
                f"SELECT {RUN_COLUMNS} FROM runs ORDER BY started_at DESC, rowid DESC"
            ).fetchall()
            return [run_from_row(r) for r in rows]

        runs = self._read("list runs", everything)
        if self._settle(runs):
            runs = self._read("list runs", everything)
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

        def query(conn: sqlite3.Connection) -> list[DeviceInfo]:
            self._require_run(conn, run_id)
            rows = conn.execute(
                "SELECT device_id, component, name, method, source, uncertainty_rel, "
                "details_json FROM devices WHERE run_id = ? ORDER BY position",
                (run_id,),
            ).fetchall()
            return [
                DeviceInfo(
                    device_id=r[0],
                    component=Component(r[1]),
                    name=r[2],
                    method=Method(r[3]),
                    source=r[4],
                    uncertainty_rel=float(r[5]),
                    details=json.loads(r[6]),
                )
                for r in rows
            ]

        return self._read("read devices", query)

    def samples(self, run_id: str) -> list[Sample]:
        """The run's samples in the order they were appended; unknown values stay None."""

        def query(conn: sqlite3.Connection) -> list[Sample]:
            self._require_run(conn, run_id)
            rows = conn.execute(
                "SELECT device_id, t_start, t_end, host_energy_j, energy_j FROM samples "
                "WHERE run_id = ? ORDER BY id",
                (run_id,),
            ).fetchall()
            return [Sample(r[0], r[1], r[2], r[3], r[4]) for r in rows]

        return self._read("read samples", query)

    def spans(self, run_id: str) -> list[SpanRecord]:
        """The run's spans in the order they were added."""

        def query(conn: sqlite3.Connection) -> list[SpanRecord]:
            self._require_run(conn, run_id)
            rows = conn.execute(
                "SELECT path, started_at, ended_at, energy_json, host_energy_json FROM spans "
                "WHERE run_id = ? ORDER BY id",
                (run_id,),
            ).fetchall()
            return [SpanRecord(r[0], r[1], r[2], json.loads(r[3]), json.loads(r[4])) for r in rows]

        return self._read("read spans", query)

    def metrics(self, run_id: str) -> dict[str, MetricValue]:
        """The last value logged under each name, with its type (int, float, str, bool)."""

        def query(conn: sqlite3.Connection) -> dict[str, MetricValue]:
            self._require_run(conn, run_id)
            rows = conn.execute(
                "SELECT name, kind, value FROM metrics WHERE run_id = ? ORDER BY name",
                (run_id,),
            ).fetchall()
            return {r[0]: decode_metric(r[1], r[2]) for r in rows}

        return self._read("read metrics", query)

    def functional_unit(self, run_id: str) -> tuple[str, float] | None:
        """``(name, count)`` or None when none was set."""

        def query(conn: sqlite3.Connection) -> tuple[str, float] | None:
            row = conn.execute(
                "SELECT functional_unit_name, functional_unit_count FROM runs WHERE run_id = ?",
                (run_id,),
            ).fetchone()
            if row is None:
                raise RunNotFoundError(f"no run {run_id!r} in ledger {self.path}")
            if row[0] is None or row[1] is None:
                return None
            return str(row[0]), float(row[1])

        return self._read("read functional unit", query)

    def energy_totals(self, run_id: str) -> dict[str, EnergyTotal]:
        """Per device: sums over samples with counts of unknown ones (see EnergyTotal).

        Every device of the run appears, in ``create_run`` order, then any device that
        only has samples; a device without samples has ``None`` totals.
        """

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
            return [r for r in map(run_from_row, rows) if host(r) == key]

        runs = self._read("find overlapping runs", query)
        if self._settle(runs):
            runs = self._read("find overlapping runs", query)
        return runs


def open_ledger(
    path: Path,
    *,
    stale_after_s: float = DEFAULT_STALE_AFTER_S,
    busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
    retry_s: float = DEFAULT_RETRY_S,
) -> SqliteLedger:
    """Open (creating it and its parent folders if needed) the ledger at ``path``."""
    path = Path(path).expanduser()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LedgerError(f"cannot create the folder for ledger {path}: {exc}") from exc
    return SqliteLedger(
        path, stale_after_s=stale_after_s, busy_timeout_s=busy_timeout_s, retry_s=retry_s
    )


# -- helpers ---------------------------------------------------------------------------
def _marks(n: int) -> str:
    return ", ".join("?" * n)


def _is_busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _ledger_error(path: Path, action: str, exc: sqlite3.Error) -> LedgerError:
    text = str(exc)
    if isinstance(exc, sqlite3.DatabaseError) and "not a database" in text:
        return LedgerError(f"{path} is not an SQLite database (a ledger file is expected)")
    if "unable to open" in text:
        return LedgerError(f"cannot open ledger {path}: {text} (check the path and permissions)")
    if "readonly" in text:
        return LedgerError(f"cannot write ledger {path}: it is read-only ({text})")
    if isinstance(exc, sqlite3.IntegrityError):
        return LedgerError(f"ledger {path}: {action} rejected: {text}")
    return LedgerError(f"ledger {path}: {action} failed: {text}")
