"""The SQLite ledger's writes: each one committed transaction, taken with the write lock
up front (``BEGIN IMMEDIATE``) and retried while another writer holds it."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from carbonledger.errors import LedgerError, RunNotFoundError
from carbonledger.records import DeviceInfo, RunRecord, RunStatus, Sample, SpanRecord
from carbonledger.store._rows import (
    RUN_COLUMNS,
    RUN_FIELDS,
    clean_text,
    dumps,
    encode_device,
    encode_metric,
    encode_run,
    encode_sample,
    encode_span,
)
from carbonledger.store.base import MetricValue
from carbonledger.store.sqlite_conn import SqliteConnection
from carbonledger.store.sqlite_rows import as_object, marks

if TYPE_CHECKING:
    from carbonledger.intensity.series import IntensitySeries

__all__ = ["SqlWrites"]


class SqlWrites(SqliteConnection):
    """Writing runs, devices, samples, spans, metrics, series and attachments."""

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
            conn.execute(f"INSERT INTO runs ({RUN_COLUMNS}) VALUES ({marks(len(RUN_FIELDS))})", row)
            conn.executemany(
                "INSERT INTO devices (run_id, position, device_id, component, name, method, "
                f"source, uncertainty_rel, details_json) VALUES ({marks(9)})",
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
        text = dumps(as_object(data, key, run_id), f"attachment {key!r}", run_id)

        def upsert(conn: sqlite3.Connection) -> None:
            self._require_run(conn, run_id)
            conn.execute(
                "INSERT INTO attachments (run_id, key, data_json) VALUES (?, ?, ?) "
                "ON CONFLICT (run_id, key) DO UPDATE SET data_json = excluded.data_json",
                (run_id, key, text),
            )

        self._write("put attachment", upsert)

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
