"""The SQLite ledger's reads: a run by id or prefix, listings (damaged rows reported,
runs whose tracker is gone settled as interrupted), one run's facts, and the runs that
shared its host."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from carbonledger.errors import CorruptRunError, RunNotFoundError
from carbonledger.records import DeviceInfo, RunRecord, Sample, SpanRecord
from carbonledger.store._rows import (
    RUN_COLUMNS,
    clean_text,
    decode_device,
    decode_metric_row,
    decode_run,
    decode_sample,
    decode_span,
    loads_blob,
)
from carbonledger.store.base import BadRowHandler, MetricValue, warn_bad_row
from carbonledger.store.liveness import tracker_gone
from carbonledger.store.sqlite_conn import SqliteConnection
from carbonledger.store.sqlite_rows import (
    functional_unit_or_none,
    series_from_json,
    successor,
)

if TYPE_CHECKING:
    from carbonledger.intensity.series import IntensitySeries

__all__ = ["SqlReads"]

log = logging.getLogger("carbonledger.store.sqlite")

_CANDIDATES_SHOWN = 5


class SqlReads(SqliteConnection):
    """Reading runs and what was stored with them."""

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
            upper = successor(key)
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
            return functional_unit_or_none(row[0], row[1], run_id, str(self.path))

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
