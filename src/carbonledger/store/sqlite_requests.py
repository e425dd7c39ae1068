"""The SQLite ledger's per-request rows of a server run (:mod:`carbonledger.serving`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from carbonledger.store._rows import clean_text
from carbonledger.store.sqlite_conn import SqliteConnection
from carbonledger.store.sqlite_rows import marks

if TYPE_CHECKING:
    from carbonledger.serving.rows import RequestRow

__all__ = ["SqlRequests"]

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


class SqlRequests(SqliteConnection):
    """Appending and reading a run's per-request rows."""

    def append_requests(self, run_id: str, rows: Sequence[RequestRow]) -> None:
        """Add a batch of per-request rows (carbonledger.serving) in one transaction."""
        run_id = clean_text(run_id)
        values = [(run_id, *_request_values(r)) for r in rows]

        def insert(conn: sqlite3.Connection) -> None:
            self._require_run(conn, run_id)
            conn.executemany(
                f"INSERT INTO requests (run_id, {', '.join(_REQUEST_COLUMNS)}) "
                f"VALUES ({marks(len(_REQUEST_COLUMNS) + 1)})",
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
