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
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
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
    "parse_tag_filters",
    "runs_frame",
    "select_runs",
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
    from carbonledger.lifecycle.pricing import footprint_for_run

    selected = select_runs(ledger.list_runs(), name=name, tags=tags)
    footprints: list[Footprint] = []
    priced: list[RunRecord] = []
    skipped: list[dict[str, str]] = []
    for run in selected:
        try:
            footprints.append(footprint_for_run(ledger, run.run_id, series=series))
            priced.append(run)
        except CarbonLedgerError as exc:
            log.warning("run %s (%s) left out: %s", run.run_id, run.name, exc)
            skipped.append({"run_id": run.run_id, "name": run.name, "error": str(exc)})
    return LoadedRuns(footprints, priced, skipped)


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
