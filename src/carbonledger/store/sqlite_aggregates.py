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
_MAX_REAL = "1.7976931348623157e308"
_BAD_SAMPLE = (
    f"(energy_j < 0 OR energy_j > {_MAX_REAL} OR host_energy_j < 0 "
    f"OR host_energy_j > {_MAX_REAL} OR t_start IS NULL OR t_end IS NULL "
    f"OR t_start > {_MAX_REAL} OR t_start < -{_MAX_REAL} "
    f"OR t_end > {_MAX_REAL} OR t_end < -{_MAX_REAL})"
)
# comparisons only (cheap): text and blobs sort above every number in SQLite, so a value
# that is not a finite number, or is negative where energy is, compares out of range
"""True for a sample row that :func:`decode_sample` would refuse (damage)."""


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
        """:meth:`run_totals` of many runs, in a few grouped queries (one per 500 runs)."""
        ids = list(dict.fromkeys(clean_text(r) for r in run_ids))

        def query(conn: sqlite3.Connection) -> tuple[dict[str, dict[str, DeviceTotals]], set[str]]:
            out: dict[str, dict[str, DeviceTotals]] = {r: {} for r in ids}
            damaged: set[str] = set()
            if require:
                for run_id in ids:
                    self._require_run(conn, run_id)
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
                for run_id, device_id, host, energy, count, miss, covered, t_end, bad in rows:
                    if bad:
                        damaged.add(run_id)
                        continue
                    out[run_id][device_id] = DeviceTotals(
                        device_id=device_id,
                        host_energy_j=None if host is None else float(host),
                        energy_j=None if energy is None else float(energy),
                        samples=int(count),
                        missing=int(miss),
                        covered_s=float(covered),
                        t_end=None if t_end is None else float(t_end),
                    )
            return out, damaged

        totals, damaged = self._read("sum samples", query)
        for run_id in damaged:  # the exact reader names the damaged sample
            totals[run_id] = totals_from_samples(self.samples(run_id))
        return totals

    def energy_by_step(self, run_id: str, bounds: Sequence[float]) -> StepEnergy:
        """Known energy per step of an intensity series, summed in SQL (see StepEnergy).

        Each sample finds its step through an indexed temporary table of the steps; the
        few that straddle a boundary or last no time come back as samples.
        """
        run_id = clean_text(run_id)
        edges = [float(b) for b in bounds]
        steps = [(a, k, b) for k, (a, b) in enumerate(itertools.pairwise(edges))]

        def query(conn: sqlite3.Connection) -> tuple[StepEnergy, bool]:
            self._require_run(conn, run_id)
            conn.execute(
                "CREATE TEMP TABLE IF NOT EXISTS carbonledger_steps "
                "(a REAL PRIMARY KEY, k INTEGER NOT NULL, b REAL NOT NULL) WITHOUT ROWID"
            )
            conn.execute("DELETE FROM carbonledger_steps")
            conn.executemany("INSERT OR REPLACE INTO carbonledger_steps VALUES (?, ?, ?)", steps)
            rows = conn.execute(
                "SELECT CASE WHEN g < -1 THEN -2 ELSE g END AS gk, SUM(e), SUM(e != 0), "
                "MIN(i), device_id, t_start, t_end, host_energy_j, e FROM ("
                "SELECT s.id AS i, s.device_id, s.t_start, s.t_end, s.host_energy_j, "
                f"s.energy_j AS e, CASE WHEN {_BAD_SAMPLE} THEN -3 "
                "WHEN s.t_end <= s.t_start THEN -2 - s.id "
                "WHEN s.t_end <= :first OR s.t_start >= :last THEN -1 "
                "ELSE COALESCE((SELECT CASE WHEN st.b >= s.t_end THEN st.k ELSE -2 - s.id END "
                "FROM carbonledger_steps st WHERE st.a <= s.t_start ORDER BY st.a DESC LIMIT 1),"
                " -2 - s.id) END AS g "
                "FROM samples s WHERE s.run_id = :id AND s.energy_j IS NOT NULL) "
                "GROUP BY g",
                {"id": run_id, "first": edges[0], "last": edges[-1]},
            ).fetchall()
            conn.execute("DELETE FROM carbonledger_steps")
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
