"""Sums over a PostgreSQL ledger's samples and a page of runs' facts, computed in the
database (store/aggregates.py and store/run_facts.py say what each means); a part of
:class:`~carbonledger.store.postgres.PostgresLedger`.

A damaged sample (a negative, infinite or NaN energy or time: PostgreSQL's double
precision can hold them, the sample decoder refuses them) makes the sums read the
samples, which raises CorruptRunError naming it, as pricing sample by sample did.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from carbonledger.errors import CarbonLedgerError
from carbonledger.intensity.series import IntensitySeries
from carbonledger.records import DeviceInfo, Sample
from carbonledger.store._rows import (
    clean_text,
    decode_device,
    decode_metric_row,
    decode_sample,
    decode_span,
    loads_blob,
)
from carbonledger.store.aggregates import (
    DeviceTotals,
    StepEnergy,
    steps_from_samples,
    totals_from_samples,
)
from carbonledger.store.run_facts import RunFacts, attachment_facts
from carbonledger.store.sqlite_rows import functional_unit_or_none, series_from_json

__all__ = ["PgAggregates"]

T = TypeVar("T")

_CHUNK = 500
_MAX = "'1.7976931348623157e308'::float8"
_BAD = (
    f"(energy_j < 0 OR energy_j > {_MAX} OR host_energy_j < 0 OR host_energy_j > {_MAX} "
    f"OR t_start > {_MAX} OR t_start < -{_MAX} OR t_end > {_MAX} OR t_end < -{_MAX})"
)
"""True for a sample the decoder refuses (NaN compares above every number here)."""


class PgAggregates:
    """The SQL sums and batch reads of a PostgreSQL ledger (the ledger provides ``_tx``,
    ``_require_run``, ``samples`` and ``url``)."""

    url: str

    def _tx(self, action: str, fn: Callable[[Any], T]) -> T:
        raise NotImplementedError

    def _require_run(self, cur: Any, run_id: str) -> None:
        raise NotImplementedError

    def samples(self, run_id: str) -> list[Sample]:
        raise NotImplementedError

    def run_totals(self, run_id: str) -> dict[str, DeviceTotals]:
        """Per-device sums over the run's samples (see :class:`DeviceTotals`)."""
        return self.many_run_totals([run_id], require=True)[clean_text(run_id)]

    def many_run_totals(
        self, run_ids: Sequence[str], *, require: bool = False
    ) -> dict[str, dict[str, DeviceTotals]]:
        """:meth:`run_totals` of many runs, one grouped query per 500 runs."""
        ids = list(dict.fromkeys(clean_text(r) for r in run_ids))

        def query(cur: Any) -> tuple[dict[str, dict[str, DeviceTotals]], set[str]]:
            out: dict[str, dict[str, DeviceTotals]] = {r: {} for r in ids}
            damaged: set[str] = set()
            if require:
                for run_id in ids:
                    self._require_run(cur, run_id)
            for lo in range(0, len(ids), _CHUNK):
                cur.execute(
                    "SELECT run_id, device_id, SUM(host_energy_j), SUM(energy_j), COUNT(*), "
                    "COUNT(*) - COUNT(energy_j), "
                    "COALESCE(SUM(CASE WHEN host_energy_j IS NOT NULL THEN t_end - t_start "
                    f"END), 0), MAX(t_end), SUM(CASE WHEN {_BAD} THEN 1 ELSE 0 END) "
                    "FROM samples WHERE run_id = ANY(%s) GROUP BY run_id, device_id",
                    (ids[lo : lo + _CHUNK],),
                )
                for run_id, device_id, host, energy, count, miss, covered, t_end, bad in cur:
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

        totals, damaged = self._tx("sum samples", query)
        for run_id in damaged:  # the exact reader names the damaged sample
            totals[run_id] = totals_from_samples(self.samples(run_id))
        return totals

    def energy_by_step(self, run_id: str, bounds: Sequence[float]) -> StepEnergy:
        """Known energy per series step in one pass: each sample's step is
        ``width_bucket`` over the bounds (the count of bounds at or before its start, as
        :func:`bisect.bisect_right` finds it); samples across a boundary come back."""
        run_id = clean_text(run_id)
        edges = [float(b) for b in bounds]

        def query(cur: Any) -> list[tuple[Any, ...]]:
            self._require_run(cur, run_id)
            cur.execute(
                "SELECT g, SUM(energy_j), SUM(CASE WHEN energy_j <> 0 THEN 1 ELSE 0 END), "
                "MIN(id), MIN(device_id), MIN(t_start), MIN(t_end), MIN(host_energy_j), "
                "MIN(energy_j) FROM (SELECT s.*, CASE "
                f"WHEN {_BAD} THEN -3 WHEN t_end <= t_start THEN -2 - id "
                "WHEN t_end <= e[1] OR t_start >= e[cardinality(e)] THEN -1 "
                "WHEN width_bucket(t_start, e) = 0 THEN -2 - id "
                "WHEN t_end <= e[width_bucket(t_start, e) + 1] "
                "THEN width_bucket(t_start, e) - 1 ELSE -2 - id END AS g "
                "FROM samples s, (SELECT %s::float8[] AS e) b "
                "WHERE s.run_id = %s AND s.energy_j IS NOT NULL) x GROUP BY g",
                (edges, run_id),
            )
            return list(cur.fetchall())

        rows = self._tx("sum samples by step", query)
        if any(r[0] == -3 for r in rows):
            return steps_from_samples(self.samples(run_id), edges)
        found: dict[int, tuple[float, int]] = {}
        rest: list[tuple[int, Sample]] = []
        for g, energy, nonzero, first_id, *sample in rows:
            if g < -1:
                rest.append((first_id, decode_sample(sample, run_id, first_id, self.url)))
            else:
                found[int(g)] = (float(energy), int(nonzero))
        rest.sort(key=lambda item: item[0])
        return StepEnergy(found, tuple(s for _, s in rest))

    def many_run_facts(self, run_ids: Sequence[str]) -> dict[str, RunFacts]:
        """A page of runs' facts (store/run_facts.py), one query per table per 500 runs;
        a run whose rows do not decode is left out (read alone, it names the damage)."""
        ids = list(dict.fromkeys(clean_text(r) for r in run_ids))
        queries = {
            "runs": "SELECT run_id, functional_unit_name, functional_unit_count FROM runs "
            "WHERE run_id = ANY(%s)",
            "devices": "SELECT run_id, device_id, component, name, method, source, "
            "uncertainty_rel, details_json FROM devices WHERE run_id = ANY(%s) "
            "ORDER BY run_id, position",
            "spans": "SELECT run_id, path, started_at, ended_at, energy_json, "
            "host_energy_json FROM spans WHERE run_id = ANY(%s) ORDER BY run_id, id",
            "metrics": "SELECT run_id, name, kind, value FROM metrics WHERE run_id = ANY(%s) "
            "ORDER BY run_id, name",
            "series": "SELECT run_id, series_json FROM series WHERE run_id = ANY(%s)",
            "attachments": "SELECT run_id, key, data_json FROM attachments "
            "WHERE run_id = ANY(%s) ORDER BY run_id, key",
        }
        out: dict[str, RunFacts] = {}
        for lo in range(0, len(ids), _CHUNK):
            chunk = ids[lo : lo + _CHUNK]

            def fetch(cur: Any, chunk: list[str] = chunk) -> dict[str, dict[str, list[Any]]]:
                found: dict[str, dict[str, list[Any]]] = {}
                for table, sql in queries.items():
                    cur.execute(sql, (chunk,))
                    by_run: dict[str, list[Any]] = {}
                    for row in cur.fetchall():
                        by_run.setdefault(row[0], []).append(row[1:])
                    found[table] = by_run
                return found

            out.update(self._decode_facts(self._tx("read runs' facts", fetch)))
        return out

    def _decode_facts(self, rows: dict[str, dict[str, list[Any]]]) -> dict[str, RunFacts]:
        from carbonledger.store.postgres import _metric_value

        where = self.url
        devices_seen: dict[tuple[Any, ...], DeviceInfo] = {}
        out: dict[str, RunFacts] = {}
        for run_id, (unit,) in rows["runs"].items():
            try:
                devices = []
                for r in rows["devices"].get(run_id, ()):
                    key = tuple(r)
                    if key not in devices_seen:
                        devices_seen[key] = decode_device(r, run_id, where)
                    devices.append(devices_seen[key])
                kept = rows["series"].get(run_id)
                series: IntensitySeries | None = (
                    series_from_json(kept[0][0], run_id, where) if kept else None
                )
                attached = _attachment_facts(rows["attachments"].get(run_id, ()), run_id, where)
                out[run_id] = RunFacts(
                    devices=tuple(devices),
                    spans=tuple(
                        decode_span(r, run_id, where) for r in rows["spans"].get(run_id, ())
                    ),
                    metrics={
                        r[0]: decode_metric_row(
                            r[0], r[1], _metric_value(r[1], r[2]), run_id, where
                        )
                        for r in rows["metrics"].get(run_id, ())
                    },
                    functional_unit=functional_unit_or_none(unit[0], unit[1], run_id, where),
                    series=series,
                    warnings=attached[0],
                    standby=attached[1],
                )
            except CarbonLedgerError:
                continue
        return out


def _attachment_facts(
    rows: Sequence[Any], run_id: str, where: str
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """As the per-run path: every attachment decoded, none kept if one is damaged."""
    try:
        found = {str(r[0]): loads_blob(r[1], f"attachment {r[0]!r}", run_id, where) for r in rows}
    except CarbonLedgerError:
        return (), ()
    return attachment_facts(found)
