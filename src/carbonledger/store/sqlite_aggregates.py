"""Sums over a SQLite ledger's samples, computed where the data lives (store/aggregates.py
says what each means); a part of :class:`~carbonledger.store.sqlite.SqliteLedger`, so a
listing never loads samples."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from carbonledger.records import Sample
from carbonledger.store._rows import clean_text, decode_sample
from carbonledger.store._schema import bad_sample
from carbonledger.store.aggregates import (
    DeviceTotals,
    StepEnergy,
    downsampled_from_samples,
    steps_from_samples,
    totals_from_samples,
)
from carbonledger.store.sqlite_reads import SqlReads
from carbonledger.store.sqlite_rows import marks

__all__ = ["EnergyTotal", "SqlAggregates"]

_CHUNK = 500  # run ids per grouped query (well under SQLite's limit on parameters)
_BAD_SAMPLE = bad_sample()
"""True for a sample row that :func:`decode_sample` would refuse (damage)."""


_MAX_TREE_BOUNDS = 8192
"""Series steps searched in the query itself; longer series use a temporary table."""

_GROUPED = (
    "SELECT CASE WHEN g < -1 THEN -2 ELSE g END AS gk, SUM(energy_j), SUM(energy_j != 0), "
    "MIN(id), device_id, t_start, t_end, host_energy_j, energy_j FROM ({inner}) GROUP BY g"
)


def _device_totals(row: Sequence[Any]) -> DeviceTotals:
    device_id, host, energy, count, miss, covered, t_end = row
    return DeviceTotals(
        device_id=device_id,
        host_energy_j=None if host is None else float(host),
        energy_j=None if energy is None else float(energy),
        samples=int(count),
        missing=int(miss),
        covered_s=float(covered),
        t_end=None if t_end is None else float(t_end),
    )


def _summed(
    conn: sqlite3.Connection, ids: Sequence[str], out: dict[str, dict[str, DeviceTotals]]
) -> set[str]:
    """Sum the samples of ``ids`` into ``out`` (runs whose kept sums are stale); returns
    the runs with a damaged sample."""
    damaged: set[str] = set()
    for lo in range(0, len(ids), _CHUNK):
        chunk = ids[lo : lo + _CHUNK]
        rows = conn.execute(
            "SELECT run_id, device_id, SUM(host_energy_j), SUM(energy_j), COUNT(*), "
            "COUNT(*) - COUNT(energy_j), "
            "TOTAL(CASE WHEN host_energy_j IS NOT NULL THEN t_end - t_start END), "
            f"MAX(t_end), SUM({_BAD_SAMPLE}) FROM samples "
            f"WHERE run_id IN ({marks(len(chunk))}) GROUP BY run_id, device_id",
            chunk,
        )
        for run_id, *row, bad in rows:
            if bad:
                damaged.add(run_id)
            else:
                out[run_id][row[0]] = _device_totals(row)
    return damaged


def _step_class(tree: str, check: bool) -> str:
    """SQL for a sample's group: -3 damaged (when ``check``), ``-2 - id`` a sample priced
    on its own (no duration, or across a step boundary), -1 wholly outside the series,
    else its step. Parameter 1 is the run id; the series' first and last bounds are
    parameters 2 and the last one (see :func:`_steps_by_tree`)."""
    damaged = f"WHEN {_BAD_SAMPLE} THEN -3 " if check else ""
    return (
        f"CASE {damaged}WHEN t_end <= t_start THEN -2 - id "
        f"WHEN t_end <= :first OR t_start >= :last THEN -1 ELSE {tree} END"
    )


def _steps_by_tree(edges: Sequence[float], check: bool) -> tuple[str, list[float]]:
    """The grouped query with a binary search over ``edges`` (the series' step starts and
    its end) written as nested CASEs: the step ``k`` is the last with ``edges[k] <=
    t_start`` (as :func:`bisect.bisect_right` finds it), and the sample is in it when it
    ends by ``edges[k + 1]``. Edge ``i`` is parameter ``?{i + 2}``."""
    n = len(edges)

    def node(lo: int, hi: int) -> str:  # the step is in [lo, hi]; -1: before the first
        if lo == hi:
            if lo < 0:
                return "-2 - id"
            return f"CASE WHEN t_end <= ?{lo + 3} THEN {lo} ELSE -2 - id END"
        mid = (lo + hi + 1) // 2
        return f"CASE WHEN t_start < ?{mid + 2} THEN {node(lo, mid - 1)} ELSE {node(mid, hi)} END"

    cls = _step_class(node(-1, n - 2), check).replace(":first", "?2").replace(":last", f"?{n + 1}")
    inner = (
        f"SELECT id, device_id, t_start, t_end, host_energy_j, energy_j, {cls} AS g "
        "FROM samples WHERE run_id = ?1 AND energy_j IS NOT NULL"
    )
    return _GROUPED.format(inner=inner), list(edges)


def _steps_by_table(
    conn: sqlite3.Connection, run_id: str, edges: Sequence[float], check: bool
) -> list[Any]:
    """As :func:`_steps_by_tree`, each sample finding its step in an indexed temporary
    table (for series too long to write into a query)."""
    steps = [(a, k, b) for k, (a, b) in enumerate(itertools.pairwise(edges))]
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS carbonledger_steps "
        "(a REAL PRIMARY KEY, k INTEGER NOT NULL, b REAL NOT NULL) WITHOUT ROWID"
    )
    conn.execute("DELETE FROM carbonledger_steps")
    conn.executemany("INSERT OR REPLACE INTO carbonledger_steps VALUES (?, ?, ?)", steps)
    lookup = (
        "COALESCE((SELECT CASE WHEN st.b >= s.t_end THEN st.k ELSE -2 - s.id END "
        "FROM carbonledger_steps st WHERE st.a <= s.t_start ORDER BY st.a DESC LIMIT 1), "
        "-2 - s.id)"
    )
    inner = (
        f"SELECT id, device_id, t_start, t_end, host_energy_j, energy_j, "
        f"{_step_class(lookup, check)} AS g "
        "FROM samples s WHERE s.run_id = :id AND s.energy_j IS NOT NULL"
    )
    rows = conn.execute(
        _GROUPED.format(inner=inner), {"id": run_id, "first": edges[0], "last": edges[-1]}
    ).fetchall()
    conn.execute("DELETE FROM carbonledger_steps")
    return rows


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


class SqlAggregates(SqlReads):
    """The SQL sums of a SQLite ledger."""

    def run_totals(self, run_id: str) -> dict[str, DeviceTotals]:
        """Per-device sums over the run's samples (see :class:`DeviceTotals`).

        A damaged sample makes this read the samples, which raises CorruptRunError naming
        it, exactly as pricing sample by sample did.
        """
        return self.many_run_totals([run_id], require=True)[clean_text(run_id)]

    def many_run_totals(
        self, run_ids: Sequence[str], *, require: bool = False
    ) -> dict[str, dict[str, DeviceTotals]]:
        """:meth:`run_totals` of many runs: the sums kept as samples were written (schema
        v5, a few rows per run); runs whose kept sums are stale are summed again, and runs
        with a damaged sample read their samples, which names it."""
        ids = list(dict.fromkeys(clean_text(r) for r in run_ids))

        def query(conn: sqlite3.Connection) -> tuple[dict[str, dict[str, DeviceTotals]], set[str]]:
            out: dict[str, dict[str, DeviceTotals]] = {r: {} for r in ids}
            damaged: set[str] = set()
            stale: set[str] = set()
            if require:
                for run_id in ids:
                    self._require_run(conn, run_id)
            for lo in range(0, len(ids), _CHUNK):
                chunk = ids[lo : lo + _CHUNK]
                rows = conn.execute(
                    "SELECT run_id, device_id, host_energy_j, energy_j, samples, missing, "
                    "covered_s, t_end, bad, stale FROM sample_totals "
                    f"WHERE run_id IN ({marks(len(chunk))})",
                    chunk,
                )
                for run_id, *row, bad, again in rows:
                    if again:
                        stale.add(run_id)
                    elif bad:
                        damaged.add(run_id)
                    else:
                        out[run_id][row[0]] = _device_totals(row)
            for run_id in stale:
                out[run_id] = {}
            for run_id in _summed(conn, sorted(stale), out):
                damaged.add(run_id)
            return out, damaged

        totals, damaged = self._read("sum samples", query)
        for run_id in damaged:  # the exact reader names the damaged sample
            totals[run_id] = totals_from_samples(self.samples(run_id))
        return totals

    def energy_by_step(self, run_id: str, bounds: Sequence[float]) -> StepEnergy:
        """Known energy per step of an intensity series, summed in SQL in one pass over
        the run's samples (see StepEnergy).

        Each sample finds its step by a binary search over the steps written into the
        query (bound parameters, so every comparison is exact); a very long series uses
        an indexed temporary table instead. The few samples that straddle a boundary or
        last no time come back as samples.
        """
        run_id = clean_text(run_id)
        edges = [float(b) for b in bounds]

        def query(conn: sqlite3.Connection) -> tuple[StepEnergy, bool]:
            self._require_run(conn, run_id)
            # the kept sums say whether any sample is damaged or changed since: only then
            # does each sample need the range check
            flags = conn.execute(
                "SELECT TOTAL(bad), TOTAL(stale) FROM sample_totals WHERE run_id = ?",
                (run_id,),
            ).fetchone()
            if flags[0]:
                return StepEnergy(), True
            check = bool(flags[1])
            if len(edges) <= _MAX_TREE_BOUNDS:
                sql, params = _steps_by_tree(edges, check)
                rows = conn.execute(sql, [run_id, *params]).fetchall()
            else:
                rows = _steps_by_table(conn, run_id, edges, check)
            if any(r[0] == -3 for r in rows):
                return StepEnergy(), True
            found: dict[int, tuple[float, int]] = {}
            rest: list[tuple[int, Any]] = []
            where = str(self.path)
            for gk, energy, nonzero, first_id, *sample in rows:
                if gk == -2:
                    rest.append((first_id, decode_sample(sample, run_id, first_id, where)))
                else:
                    found[int(gk)] = (float(energy), int(nonzero))
            rest.sort(key=lambda item: item[0])
            return StepEnergy(found, tuple(s for _, s in rest)), False

        result, damaged = self._read("sum samples by step", query)
        if damaged:
            return steps_from_samples(self.samples(run_id), edges)
        return result

    def downsampled_samples(self, run_id: str, points: int) -> list[Sample]:
        """The run's samples, or at most ``points`` per device merged in time buckets in
        SQL when it has more (see :func:`~carbonledger.store.aggregates.downsampled`)."""
        run_id = clean_text(run_id)

        def count(conn: sqlite3.Connection) -> tuple[int, int, Any, Any]:
            self._require_run(conn, run_id)
            row = conn.execute(
                "SELECT COUNT(*), COUNT(DISTINCT device_id), MIN(t_start), MAX(t_end) "
                "FROM samples WHERE run_id = ?",
                (run_id,),
            ).fetchone()
            return int(row[0]), int(row[1]), row[2], row[3]

        n, devices, t0, t1 = self._read("count samples", count)
        if n <= points * max(1, devices) or not isinstance(t0, (int, float)):
            return self.samples(run_id)
        if not isinstance(t1, (int, float)) or t1 <= t0:
            return downsampled_from_samples(self.samples(run_id), points)
        width = (t1 - t0) / points

        def query(conn: sqlite3.Connection) -> list[Sample]:
            rows = conn.execute(
                "SELECT device_id, MIN(t_start), MAX(t_end), SUM(host_energy_j), SUM(energy_j), "
                f"SUM({_BAD_SAMPLE}) FROM samples WHERE run_id = :id "
                "GROUP BY device_id, MIN(:last, CAST((t_start - :t0) / :w AS INTEGER)) "
                "ORDER BY 2, 1",
                {"id": run_id, "t0": t0, "w": width, "last": points - 1},
            ).fetchall()
            if any(r[5] for r in rows):
                return []
            where = str(self.path)
            return [decode_sample(r[:5], run_id, i, where) for i, r in enumerate(rows)]

        merged = self._read("downsample samples", query)
        return merged if merged else downsampled_from_samples(self.samples(run_id), points)

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
