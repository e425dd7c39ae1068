"""Totals across runs, grouped by phase, name, a tag or the day a run started.

Sums are taken in the units of the footprint JSON (kWh, kgCO2e) with :func:`math.fsum`,
and the overall total is the ``fsum`` of the group totals, so the rows add up to the total
row exactly. A run without a value (``null``) is not counted as zero: it is left out of
that sum and counted in ``missing``.

Grouped by job, a job's row is not the sum of its runs: ranks on one node share its
devices (each rank's footprint carries the node's embodied emissions, and only the
measuring rank its energy), and nobody's run holds the stretches nobody measured. The row
is the job's one footprint (:func:`carbonledger.distributed.job.job_footprint`, what
``carbonledger job KEY`` gives), handed in as ``jobs`` (:func:`summarize_ledger` does it,
one footprint per job key); a job whose footprint cannot be computed has no figures and
says why in its ``warnings``, rather than a wrong sum.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from carbonledger.errors import ConfigError
from carbonledger.lifecycle.uncertainty import sum_interval
from carbonledger.report.pareto import as_mapping

if TYPE_CHECKING:
    from carbonledger.store.base import Ledger

__all__ = [
    "FIELDS",
    "SummaryRow",
    "group_key",
    "job_facts",
    "parse_group_by",
    "summarize",
    "summarize_ledger",
    "summary_facts",
]

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
    # how the figures were combined, stated when grouping by job (None otherwise, so the
    # other groupings' JSON keeps its keys): "sum" of the runs' footprints, or "job", the
    # job's one footprint (``carbonledger job KEY``)
    method: str | None = None
    warnings: tuple[str, ...] = ()  # caveats of the row (a job's, or why it has no figures)
    # method "job": node and run counts, time span and the interval method of the job
    job: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        uncertainty = {k: None if v is None else [v[0], v[1]] for k, v in self.intervals.items()}
        out: dict[str, Any] = {
            "group": self.group,
            "runs": self.runs,
            **self.totals,
            "missing": self.missing,
            "uncertainty": uncertainty,
        }
        if self.method is not None:
            out.update(method=self.method, warnings=list(self.warnings), job=self.job)
        return out


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


_NOT_THE_JOB = (
    "summed run by run, not the job's footprint: embodied emissions are counted once per "
    "rank and unmeasured stretches are left out (`carbonledger job KEY` gives the job's)"
)


def _job_row(key: str, runs: Sequence[Any], job: Mapping[str, Any] | None) -> SummaryRow:
    """The row of job ``key``: its one footprint (``job``, see :func:`job_facts`), or no
    figures and the reason when it could not be computed; summed, and said so, when the
    caller gave no footprint for it."""
    if job is None:
        return replace(_row(key, runs), method="sum", warnings=(_NOT_THE_JOB,))
    error = job.get("error")
    if error is not None:
        return SummaryRow(
            group=key,
            runs=len(runs),
            totals=dict.fromkeys((c for _, c in FIELDS), None),
            missing={c: len(runs) for _, c in FIELDS},
            intervals=dict.fromkeys(INTERVAL_FIELDS, None),
            method="job",
            warnings=(
                f"the job's footprint cannot be computed ({error}); its runs are left out "
                "of the sums, not added one by one",
            ),
        )
    totals = {column: _number(job.get(key_)) for key_, column in FIELDS}
    bounds = job.get("uncertainty") or {}
    intervals: dict[str, tuple[float, float] | None] = {}
    for field_ in INTERVAL_FIELDS:
        pair = bounds.get(field_)
        intervals[field_] = (
            (float(pair[0]), float(pair[1]))
            if isinstance(pair, (list, tuple)) and len(pair) == 2
            else None
        )
    warnings = [str(w) for w in job.get("warnings") or ()]
    ranks = job.get("runs")
    if isinstance(ranks, int) and ranks != len(runs):
        warnings.insert(
            0,
            f"the job's footprint covers all {ranks} of its runs; {len(runs)} matched the filters",
        )
    return SummaryRow(
        group=key,
        runs=len(runs),
        totals=totals,
        missing={c: 0 if totals[c] is not None else len(runs) for _, c in FIELDS},
        intervals=intervals,
        method="job",
        warnings=tuple(warnings),
        job={
            **{k: job.get(k) for k in ("nodes", "runs", "started_at", "ended_at", "duration_s")},
            "uncertainty": {
                k: v for k, v in bounds.items() if k == "method" or k.endswith("_linear")
            },
        },
    )


def job_facts(job: Any) -> dict[str, Any]:
    """What :func:`summarize` reads of a job's footprint (a JobFootprint or its JSON),
    kept small: figures, intervals (quadrature, and linear), warnings, node and run
    counts, time span."""
    data: Mapping[str, Any] = job if isinstance(job, Mapping) else job.to_dict()
    if "error" in data:
        return {"error": data["error"]}
    nodes = data.get("nodes")
    runs = data.get("runs", data.get("ranks"))  # facts already, or the job's JSON
    kept = {key: data.get(key) for key, _ in FIELDS}
    kept.update(
        key=data.get("key"),
        uncertainty=dict(data.get("uncertainty") or {}),
        nodes=nodes if isinstance(nodes, int) else len(nodes or ()),
        runs=runs if isinstance(runs, int) else len(runs or ()),
        started_at=data.get("started_at"),
        ended_at=data.get("ended_at"),
        duration_s=data.get("duration_s"),
        warnings=list(data.get("warnings") or ()),
    )
    return kept


def summarize(
    runs: Sequence[Any],
    by: str = "phase",
    *,
    jobs: Mapping[str, Any] | None = None,
) -> tuple[list[SummaryRow], SummaryRow]:
    """(one row per group, sorted by group with the no-group row last; the overall row).

    The overall row's totals are the ``fsum`` of the group totals; its ``missing`` counts
    are the sums of the groups'. ``runs`` are footprint dicts or Footprints.

    By job, ``jobs`` maps a job key to its footprint (a JobFootprint, its JSON or its
    :func:`job_facts`), or to ``{"error": reason}`` when it could not be computed: the
    job's row is that footprint, not the sum of its runs (only the number of runs is
    read of those). A job missing from ``jobs`` is summed run by run, with a warning
    saying why that is not its footprint.
    """
    kind, _ = parse_group_by(by)
    groups: dict[str | None, list[Any]] = {}
    for run in runs:
        groups.setdefault(group_key(run, by), []).append(run)
    order = sorted(groups, key=lambda g: (g is None, g or ""))
    if kind == "job":
        found = {key: job_facts(job) for key, job in (jobs or {}).items()}
        rows = [
            replace(_row(g, groups[g]), method="sum")
            if g is None
            else _job_row(g, groups[g], found.get(g))
            for g in order
        ]
    else:
        rows = [_row(g, groups[g]) for g in order]
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
        group="all",
        runs=len(runs),
        totals=totals,
        missing=missing,
        intervals=intervals,
        method="sum" if kind == "job" else None,
    )
    return rows, overall


def summarize_ledger(
    ledger: Ledger,
    by: str = "phase",
    *,
    name: str | None = None,
    tags: Mapping[str, str] | None = None,
    skipped: list[dict[str, str]] | None = None,
) -> tuple[list[SummaryRow], SummaryRow]:
    """:func:`summarize` over the ledger's runs (those matching ``name`` and ``tags``, as
    :func:`carbonledger.report.frame.select_runs` picks them); runs that cannot be priced
    are left out and added to ``skipped``.

    By job, a run of a job is not priced on its own: each job key's footprint is computed
    once (:func:`carbonledger.distributed.job.job_footprint`, over all the job's runs) and
    is its row; a job that cannot be priced gets a row without figures that says why.
    """
    from carbonledger.errors import CarbonLedgerError
    from carbonledger.report.frame import price_selected, select_runs

    kind, _ = parse_group_by(by)
    left_out = [] if skipped is None else skipped
    everything = ledger.list_runs()
    selected = select_runs(everything, name=name, tags=tags)
    keyed: dict[str, int] = {}
    if kind == "job":
        for run in selected:
            if run.job is not None:
                keyed[run.job.key] = keyed.get(run.job.key, 0) + 1
        selected = [run for run in selected if run.job is None]
    facts: list[dict[str, Any]] = [
        summary_facts(fp) for _, fp in price_selected(ledger, selected, everything, left_out)
    ]
    jobs: dict[str, Mapping[str, Any]] = {}
    if keyed:
        from carbonledger.distributed.job import job_footprint

        for key, count in keyed.items():
            facts.extend({"job": {"key": key}} for _ in range(count))
            try:
                jobs[key] = job_facts(job_footprint(ledger, key))
            except CarbonLedgerError as exc:
                jobs[key] = {"error": str(exc)}
    return summarize(facts, by, jobs=jobs)


def summary_facts(run: Any) -> dict[str, Any]:
    """What :func:`summarize` reads of a run, kept small: a listing that streams
    footprints keeps this per run instead of the whole footprint."""
    data = as_mapping(run)
    kept = {key: data.get(key) for key in ("phase", "name", "tags", "started_at", "job")}
    kept.update((key, data.get(key)) for key, _ in FIELDS)
    uncertainty = data.get("uncertainty") or {}
    kept["uncertainty"] = {key: uncertainty.get(key) for key in INTERVAL_FIELDS}
    return kept
