"""Totals across runs, grouped by phase, name, a tag or the day a run started.

Sums are taken in the units of the footprint JSON (kWh, kgCO2e) with :func:`math.fsum`,
and the overall total is the ``fsum`` of the group totals, so the rows add up to the total
row exactly. A run without a value (``null``) is not counted as zero: it is left out of
that sum and counted in ``missing``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from carbonledger.errors import ConfigError
from carbonledger.lifecycle.uncertainty import sum_interval
from carbonledger.report.pareto import as_mapping

__all__ = ["FIELDS", "SummaryRow", "group_key", "parse_group_by", "summarize", "summary_facts"]

# summed fields: footprint dict key -> column name
FIELDS: tuple[tuple[str, str], ...] = (
    ("energy_kwh", "energy_kwh"),
    ("operational_kgco2e", "operational_kgco2e"),
    ("embodied_kgco2e", "embodied_kgco2e"),
    ("total_kgco2e", "total_kgco2e"),
)

GROUPINGS = ("phase", "name", "tag", "day", "job")
# fields with an interval in the footprint JSON's ``uncertainty``
INTERVAL_FIELDS = ("energy_kwh", "total_kgco2e")


@dataclass(frozen=True)
class SummaryRow:
    """The totals of one group (``group`` is None for a run without that tag or date)."""

    group: str | None
    runs: int
    totals: dict[str, float | None]  # None when no run of the group had a value
    missing: dict[str, int]  # runs of the group without a value, per field
    # [low, high] of the summed energy_kwh and total_kgco2e: the runs' absolute errors in
    # quadrature (independent runs); None when a run has no interval or no value
    intervals: dict[str, tuple[float, float] | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        uncertainty = {k: None if v is None else [v[0], v[1]] for k, v in self.intervals.items()}
        return {
            "group": self.group,
            "runs": self.runs,
            **self.totals,
            "missing": self.missing,
            "uncertainty": uncertainty,
        }


def parse_group_by(spec: str) -> tuple[str, str | None]:
    """``phase``, ``name``, ``day`` or ``tag:KEY`` → (grouping, tag key)."""
    kind, _, key = spec.partition(":")
    kind = kind.strip().lower()
    if kind == "tag":
        if not key.strip():
            raise ConfigError("group by tag needs a key: tag:KEY")
        return ("tag", key.strip())
    if kind not in GROUPINGS or key:
        raise ConfigError(f"cannot group by {spec!r}; use phase, name, day, job or tag:KEY")
    return (kind, None)


def _day(started_at: Any) -> str | None:
    if not isinstance(started_at, str) or not started_at:
        return None
    try:
        moment = datetime.fromisoformat(started_at.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.date().isoformat()


def group_key(run: Any, by: str) -> str | None:
    """The group a run falls in under ``by`` (see :func:`parse_group_by`)."""
    kind, tag = parse_group_by(by)
    data = as_mapping(run)
    if kind == "tag":
        tags = data.get("tags") or {}
        value = tags.get(tag) if isinstance(tags, dict) else None
        return None if value is None else str(value)
    if kind == "day":
        return _day(data.get("started_at"))
    if kind == "job":  # the distributed job's key (carbonledger.distributed)
        job = data.get("job")
        key = job.get("key") if isinstance(job, dict) else None
        return None if key is None else str(key)
    value = data.get(kind)
    return None if value is None else str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _row(group: str | None, runs: Sequence[Any]) -> SummaryRow:
    totals: dict[str, float | None] = {}
    missing: dict[str, int] = {}
    for key, column in FIELDS:
        values = [_number(as_mapping(run).get(key)) for run in runs]
        present = [v for v in values if v is not None]
        totals[column] = math.fsum(present) if present else None
        missing[column] = len(values) - len(present)
    intervals: dict[str, tuple[float, float] | None] = {}
    for key in INTERVAL_FIELDS:
        terms = []
        for run in runs:
            data = as_mapping(run)
            bounds = (data.get("uncertainty") or {}).get(key)
            terms.append((_number(data.get(key)), bounds if isinstance(bounds, list) else None))
        intervals[key] = sum_interval(terms)
    return SummaryRow(
        group=group, runs=len(runs), totals=totals, missing=missing, intervals=intervals
    )


def summarize(runs: Sequence[Any], by: str = "phase") -> tuple[list[SummaryRow], SummaryRow]:
    """(one row per group, sorted by group with the no-group row last; the overall row).

    The overall row's totals are the ``fsum`` of the group totals; its ``missing`` counts
    are the sums of the groups'. ``runs`` are footprint dicts or Footprints.
    """
    parse_group_by(by)
    groups: dict[str | None, list[Any]] = {}
    for run in runs:
        groups.setdefault(group_key(run, by), []).append(run)
    rows = [_row(g, groups[g]) for g in sorted(groups, key=lambda g: (g is None, g or ""))]
    totals: dict[str, float | None] = {}
    missing: dict[str, int] = {}
    for _, column in FIELDS:
        parts = [r.totals[column] for r in rows if r.totals[column] is not None]
        totals[column] = math.fsum(p for p in parts if p is not None) if parts else None
        missing[column] = sum(r.missing[column] for r in rows)
    intervals = {
        key: sum_interval(
            (r.totals[key], None if r.intervals.get(key) is None else list(r.intervals[key] or ()))
            for r in rows
        )
        for key in INTERVAL_FIELDS
    }
    overall = SummaryRow(
        group="all", runs=len(runs), totals=totals, missing=missing, intervals=intervals
    )
    return rows, overall


def summary_facts(run: Any) -> dict[str, Any]:
    """What :func:`summarize` reads of a run, kept small: a listing that streams
    footprints keeps this per run instead of the whole footprint."""
    data = as_mapping(run)
    kept = {key: data.get(key) for key in ("phase", "name", "tags", "started_at", "job")}
    kept.update((key, data.get(key)) for key, _ in FIELDS)
    uncertainty = data.get("uncertainty") or {}
    kept["uncertainty"] = {key: uncertainty.get(key) for key in INTERVAL_FIELDS}
    return kept
