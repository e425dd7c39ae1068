"""Runs as rows: flat dicts for any tool, and a pandas DataFrame when pandas is installed.

:func:`load_footprints` prices the runs of a ledger (optionally filtered by a name
pattern and tags) with :func:`~carbonledger.lifecycle.pricing.footprint_for_run`; the
cross-run commands (``leaderboard``, ``compare``, ``summary``) read runs through it. A
run that cannot be priced is not dropped silently: it is returned in ``skipped`` with
its error, and logged.

pandas is the optional ``[pandas]`` extra, imported only by :func:`runs_frame`.
"""

from __future__ import annotations

import fnmatch
import itertools
import logging
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from carbonledger.errors import CarbonLedgerError, ConfigError
from carbonledger.intensity.series import IntensitySeries
from carbonledger.lifecycle.footprint import Footprint
from carbonledger.records import RunRecord
from carbonledger.report.pareto import as_mapping
from carbonledger.store.base import Ledger

__all__ = [
    "LoadedRuns",
    "flat_row",
    "load_footprints",
    "overlapping_runs_by_id",
    "parse_tag_filters",
    "price_runs",
    "price_selected",
    "runs_frame",
    "select_runs",
    "stream_footprints",
]

log = logging.getLogger(__name__)

INSTALL_HINT = "runs_frame needs pandas: pip install 'carbonledger[pandas]'"
COMPONENTS = ("cpu", "gpu", "ram", "other")


@dataclass(frozen=True)
class LoadedRuns:
    """Priced runs, in the ledger's order, and the runs that could not be priced."""

    footprints: list[Footprint]
    runs: list[RunRecord]
    skipped: list[dict[str, str]] = field(default_factory=list)  # {run_id, name, error}


def parse_tag_filters(specs: Iterable[str]) -> dict[str, str]:
    """``["team=vision", "seed=1"]`` → ``{"team": "vision", "seed": "1"}``."""
    tags: dict[str, str] = {}
    for spec in specs:
        key, sep, value = spec.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"tag filter {spec!r} must be KEY=VALUE")
        tags[key.strip()] = value.strip()
    return tags


def select_runs(
    runs: Sequence[RunRecord],
    *,
    name: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> list[RunRecord]:
    """Runs whose name matches the glob ``name`` (case-sensitive) and that carry ``tags``."""
    out = []
    for run in runs:
        if name is not None and not fnmatch.fnmatchcase(run.name, name):
            continue
        if tags and any(run.tags.get(k) != v for k, v in tags.items()):
            continue
        out.append(run)
    return out


def load_footprints(
    ledger: Ledger,
    *,
    name: str | None = None,
    tags: Mapping[str, str] | None = None,
    series: IntensitySeries | None = None,
) -> LoadedRuns:
    """Price the ledger's runs that match ``name`` and ``tags`` (newest first)."""
    footprints: list[Footprint] = []
    priced: list[RunRecord] = []
    skipped: list[dict[str, str]] = []
    for run, fp in stream_footprints(ledger, skipped, name=name, tags=tags, series=series):
        footprints.append(fp)
        priced.append(run)
    return LoadedRuns(footprints, priced, skipped)


def stream_footprints(
    ledger: Ledger,
    skipped: list[dict[str, str]],
    *,
    name: str | None = None,
    tags: Mapping[str, str] | None = None,
    series: IntensitySeries | None = None,
) -> Iterator[tuple[RunRecord, Footprint]]:
    """:func:`load_footprints` one run at a time (newest first), so a caller keeps only
    what it needs of each; runs that cannot be priced are logged and added to ``skipped``."""
    everything = ledger.list_runs()
    selected = select_runs(everything, name=name, tags=tags)
    yield from price_selected(ledger, selected, everything, skipped, series=series)


def price_selected(
    ledger: Ledger,
    selected: Iterable[RunRecord],
    everything: Sequence[RunRecord],
    skipped: list[dict[str, str]],
    *,
    series: IntensitySeries | None = None,
) -> Iterator[tuple[RunRecord, Footprint]]:
    """:func:`price_runs` of runs already selected from ``everything`` (the ledger's
    runs), one at a time; those that cannot be priced are logged and added to ``skipped``."""
    for run, fp, error in price_runs(ledger, selected, everything=everything, series=series):
        if fp is not None:
            yield run, fp
        else:
            log.warning("run %s (%s) left out: %s", run.run_id, run.name, error)
            skipped.append({"run_id": run.run_id, "name": run.name, "error": str(error)})


PAGE_RUNS = 500
"""Runs priced per page: their sample totals come from one grouped query."""


def price_runs(
    ledger: Ledger,
    runs: Iterable[RunRecord],
    *,
    everything: Sequence[RunRecord] | None = None,
    series: IntensitySeries | None = None,
    page: int = PAGE_RUNS,
) -> Iterator[tuple[RunRecord, Footprint | None, CarbonLedgerError | None]]:
    """Price ``runs`` lazily, page by page: ``(run, footprint, None)`` or ``(run, None,
    error)`` for a run that cannot be priced (one such run hides no other).

    ``everything`` (default: ``runs``) are the runs that may share a host with them: the
    overlaps are found once by a sweep over it, each page's sample totals are read in
    one grouped query and its other facts in one query per table, so no run's samples
    are loaded unless it shares its host; what runs share (intensity of a zone, embodied
    items of a hardware set) is computed once per listing.
    """
    from carbonledger.lifecycle.pricing import Prefetched, footprint_for_run
    from carbonledger.lifecycle.pricing_memo import PricingMemo
    from carbonledger.store.aggregates import many_run_totals
    from carbonledger.store.run_facts import many_run_facts

    runs = iter(runs)
    pool = None if everything is None else overlapping_runs_by_id(everything, now=time.time())
    memo = PricingMemo()
    while True:
        chunk = list(itertools.islice(runs, page))
        if not chunk:
            return
        overlaps = pool if pool is not None else overlapping_runs_by_id(chunk, now=time.time())
        alone = [r.run_id for r in chunk if not overlaps.get(r.run_id)]
        try:
            totals = many_run_totals(ledger, alone) if alone else {}
        except CarbonLedgerError:
            totals = {}  # each run reads its own and reports its own error
        try:
            facts = many_run_facts(ledger, [r.run_id for r in chunk])
        except CarbonLedgerError:
            facts = {}  # likewise
        for run in chunk:
            known = Prefetched(
                run,
                overlaps.get(run.run_id, ()),
                totals.get(run.run_id),
                facts.get(run.run_id),
                memo,
            )
            try:
                fp = footprint_for_run(ledger, run.run_id, series=series, prefetched=known)
            except CarbonLedgerError as exc:
                yield run, None, exc
                continue
            yield run, fp, None


def overlapping_runs_by_id(runs: Sequence[RunRecord], *, now: float) -> dict[str, list[RunRecord]]:
    """For each run, the others in ``runs`` on its host whose time overlaps it (a running
    run counts up to ``now``), oldest first: the rule of
    :func:`~carbonledger.lifecycle.sharing.runs_overlap`, found by one sweep per host."""
    from carbonledger.lifecycle.sharing import host_key, runs_overlap

    by_host: dict[str, list[tuple[float, int, RunRecord]]] = {}
    # list_runs is newest first; its reverse is the ledger's oldest-first order
    for position, run in enumerate(reversed(runs)):
        key = host_key(run.host)
        if key is not None:
            by_host.setdefault(key, []).append((run.started_at, position, run))
    found: dict[str, list[tuple[float, int, RunRecord]]] = {}
    for rows in by_host.values():
        rows.sort(key=lambda row: (row[0], row[1]))
        for i, (_, pos_i, run) in enumerate(rows):
            end = run.ended_at if run.ended_at is not None else now
            j = i + 1
            while j < len(rows) and rows[j][0] < end:
                other = rows[j][2]
                if runs_overlap(run, other, now=now):
                    found.setdefault(run.run_id, []).append(rows[j])
                    found.setdefault(other.run_id, []).append((run.started_at, pos_i, run))
                j += 1
    return {
        run_id: [row[2] for row in sorted(rows, key=lambda row: (row[0], row[1]))]
        for run_id, rows in found.items()
    }


def _component_totals(components: Sequence[Mapping[str, Any]]) -> dict[str, float | None]:
    totals: dict[str, float | None] = {}
    for component in COMPONENTS:
        values = [c.get("energy_kwh") for c in components if c.get("component") == component]
        if not values:
            continue
        known = [float(v) for v in values if isinstance(v, (int, float))]
        totals[f"energy_kwh_{component}"] = sum(known) if known else None
    return totals


def flat_row(run: Any) -> dict[str, Any]:
    """One run (a Footprint or its dict) as a flat dict: tags as ``tag.K``, metrics as
    ``metric.NAME``, per-component energy as ``energy_kwh_cpu`` …; missing values None."""
    d = as_mapping(run)
    intensity = d.get("intensity") or {}
    uncertainty = d.get("uncertainty") or {}
    energy_iv = uncertainty.get("energy_kwh") or [None, None]
    total_iv = uncertainty.get("total_kgco2e") or [None, None]
    row: dict[str, Any] = {
        "run_id": d.get("run_id"),
        "name": d.get("name"),
        "phase": d.get("phase"),
        "status": d.get("status"),
        "started_at": d.get("started_at"),
        "ended_at": d.get("ended_at"),
        "duration_s": d.get("duration_s"),
        "scope": d.get("scope"),
        "zone": intensity.get("zone"),
        "intensity_g_per_kwh": intensity.get("g_per_kwh"),
        "intensity_method": intensity.get("method"),
        "intensity_source": intensity.get("source"),
        "time_aligned": intensity.get("time_aligned"),
        "pue": d.get("pue"),
        "energy_kwh": d.get("energy_kwh"),
        "energy_kwh_low": energy_iv[0],
        "energy_kwh_high": energy_iv[1],
        "facility_energy_kwh": d.get("facility_energy_kwh"),
        "operational_kgco2e": d.get("operational_kgco2e"),
        "embodied_kgco2e": d.get("embodied_kgco2e"),
        "total_kgco2e": d.get("total_kgco2e"),
        "total_kgco2e_low": total_iv[0],
        "total_kgco2e_high": total_iv[1],
    }
    row.update(_component_totals(d.get("components") or []))
    for key, value in (d.get("tags") or {}).items():
        row[f"tag.{key}"] = value
    for key, value in (d.get("metrics") or {}).items():
        row[f"metric.{key}"] = value
    return row


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None
    return pandas


def runs_frame(
    source: Ledger | str | os.PathLike[str] | Iterable[Any],
    *,
    name: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> Any:
    """A ``pandas.DataFrame`` with one row per run (columns as :func:`flat_row`).

    ``source`` is a ledger, a ledger path, or footprints (or their dicts). ``name`` and
    ``tags`` filter a ledger's runs. ``started_at``/``ended_at`` become UTC timestamps.
    Raises ConfigError when pandas is not installed.
    """
    pandas = _pandas()
    if isinstance(source, (str, os.PathLike)):
        from carbonledger.store import open_ledger

        ledger = open_ledger(Path(source))
        try:
            footprints: list[Any] = load_footprints(ledger, name=name, tags=tags).footprints
        finally:
            ledger.close()
    elif hasattr(source, "list_runs") and hasattr(source, "samples"):
        footprints = load_footprints(source, name=name, tags=tags).footprints  # type: ignore[arg-type]
    else:
        footprints = list(source)
    rows = [flat_row(fp) for fp in footprints]
    frame = pandas.DataFrame.from_records(rows)
    if frame.empty:
        return pandas.DataFrame(columns=list(flat_row({}).keys()))
    for column in ("started_at", "ended_at"):
        frame[column] = pandas.to_datetime(frame[column], utc=True, errors="coerce")
    return frame
