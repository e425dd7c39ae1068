"""A SQLite ledger's per-run facts for many runs at once: one query per table per page
(store/run_facts.py says what they are); a mixin of
:class:`~carbonledger.store.sqlite.SqliteLedger`.

Rows are decoded by the same functions as the per-run reads. A run with a row that does
not decode, or that is not in the ledger, is left out of the answer: pricing then reads
it on its own and reports the error that read names.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from carbonledger.errors import CarbonLedgerError
from carbonledger.intensity.series import IntensitySeries
from carbonledger.records import DeviceInfo, SpanRecord
from carbonledger.store._rows import (
    clean_text,
    decode_device,
    decode_metric_row,
    decode_span,
    loads_blob,
)
from carbonledger.store.base import MetricValue
from carbonledger.store.run_facts import RunFacts, attachment_facts
from carbonledger.store.sqlite_conn import SqliteConnection
from carbonledger.store.sqlite_rows import functional_unit_or_none, marks, series_from_json

__all__ = ["SqlFacts"]

_CHUNK = 500  # run ids per query (well under SQLite's limit on parameters)


class SqlFacts(SqliteConnection):
    """The batch reads of a SQLite ledger."""

    def many_run_facts(self, run_ids: Sequence[str]) -> dict[str, RunFacts]:
        """:class:`RunFacts` of ``run_ids``: one query per table per 500 runs."""
        ids = list(dict.fromkeys(clean_text(r) for r in run_ids))
        out: dict[str, RunFacts] = {}
        for lo in range(0, len(ids), _CHUNK):
            chunk = ids[lo : lo + _CHUNK]

            def fetch(conn: sqlite3.Connection, ids: list[str] = chunk) -> dict[str, _Rows]:
                return _fetch(conn, ids)

            rows = self._read("read runs' facts", fetch)
            out.update(_decode(rows, str(self.path)))
        return out


_Rows = dict[str, list[tuple[Any, ...]]]


def _fetch(conn: sqlite3.Connection, ids: list[str]) -> dict[str, _Rows]:
    where = f"run_id IN ({marks(len(ids))})"
    queries = {
        "runs": "SELECT run_id, functional_unit_name, functional_unit_count FROM runs "
        f"WHERE {where}",
        "devices": "SELECT run_id, device_id, component, name, method, source, "
        f"uncertainty_rel, details_json FROM devices WHERE {where} ORDER BY run_id, position",
        "spans": "SELECT run_id, path, started_at, ended_at, energy_json, host_energy_json "
        f"FROM spans WHERE {where} ORDER BY run_id, id",
        "metrics": f"SELECT run_id, name, kind, value FROM metrics WHERE {where} "
        "ORDER BY run_id, name",
        "series": f"SELECT run_id, series_json FROM series WHERE {where}",
        "attachments": f"SELECT run_id, key, data_json FROM attachments WHERE {where} "
        "ORDER BY run_id, key",
    }
    found: dict[str, _Rows] = {}
    for table, sql in queries.items():
        by_run: _Rows = {}
        for row in conn.execute(sql, ids):
            by_run.setdefault(row[0], []).append(row[1:])
        found[table] = by_run
    return found


def _decode(rows: dict[str, _Rows], where: str) -> dict[str, RunFacts]:
    devices_seen: dict[tuple[Any, ...], DeviceInfo] = {}
    series_seen: dict[str, IntensitySeries] = {}
    out: dict[str, RunFacts] = {}
    for run_id, (unit_row,) in rows["runs"].items():
        try:
            attached = _attachment_facts(rows["attachments"].get(run_id, ()), run_id, where)
            out[run_id] = RunFacts(
                devices=tuple(
                    _device(r, run_id, where, devices_seen) for r in rows["devices"].get(run_id, ())
                ),
                spans=_spans(rows["spans"].get(run_id, ()), run_id, where),
                metrics=_metrics(rows["metrics"].get(run_id, ()), run_id, where),
                functional_unit=functional_unit_or_none(unit_row[0], unit_row[1], run_id, where),
                series=_series(rows["series"].get(run_id), run_id, where, series_seen),
                warnings=attached[0],
                standby=attached[1],
            )
        except CarbonLedgerError:
            continue  # read alone, the run names its damage
    return out


def _device(
    r: tuple[Any, ...], run_id: str, where: str, seen: dict[tuple[Any, ...], DeviceInfo]
) -> DeviceInfo:
    """A device row decoded once per listing: runs on the same hardware share rows."""
    found = seen.get(r)
    if found is None:
        found = seen[r] = decode_device(r, run_id, where)
    return found


def _spans(rows: Sequence[tuple[Any, ...]], run_id: str, where: str) -> tuple[SpanRecord, ...]:
    return tuple(decode_span(r, run_id, where) for r in rows)


def _metrics(rows: Sequence[tuple[Any, ...]], run_id: str, where: str) -> dict[str, MetricValue]:
    return {r[0]: decode_metric_row(r[0], r[1], r[2], run_id, where) for r in rows}


def _series(
    rows: list[tuple[Any, ...]] | None,
    run_id: str,
    where: str,
    seen: dict[str, IntensitySeries],
) -> IntensitySeries | None:
    if not rows:
        return None
    text = rows[0][0]
    if isinstance(text, str) and text in seen:
        return seen[text]
    series = series_from_json(text, run_id, where)
    if isinstance(text, str):
        seen[text] = series
    return series


def _attachment_facts(
    rows: Sequence[tuple[Any, ...]], run_id: str, where: str
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """As the per-run path: every attachment decoded, none kept if one is damaged."""
    try:
        found = {str(r[0]): loads_blob(r[1], f"attachment {r[0]!r}", run_id, where) for r in rows}
    except CarbonLedgerError:
        return (), ()
    return attachment_facts(found)
