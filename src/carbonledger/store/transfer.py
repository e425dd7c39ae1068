"""Copying a run from one ledger into another, idempotently (spool sync, ``merge``).

A run is identified by its id; a sample by its device and interval (``t_start``,
``t_end``), a span by its path and times. Copying again adds only what the target lacks,
so an interrupted or retried copy never duplicates. A target that has the run with other
facts (another start or host, or a sample of the same device and interval with other
energies) is refused with :class:`RunConflictError`: the same run must never be counted
from two different records.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from carbonledger.errors import LedgerError, RunNotFoundError
from carbonledger.records import RunRecord, RunStatus, Sample, SpanRecord
from carbonledger.store.base import Ledger

__all__ = ["CopyResult", "RunConflictError", "copy_run", "sample_key"]


class RunConflictError(LedgerError):
    """The target holds the same run id with different facts."""


@dataclass(frozen=True)
class CopyResult:
    run_id: str
    created: bool
    samples_added: int
    spans_added: int


def sample_key(s: Sample) -> tuple[str, float, float]:
    return (s.device_id, s.t_start, s.t_end)


def _same_energy(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def _span_key(s: SpanRecord) -> tuple[str, float, float | None]:
    return (s.path, s.started_at, s.ended_at)


def copy_run(source: Ledger, target: Ledger, run_id: str, *, where: str = "") -> CopyResult:
    """Copy run ``run_id`` (and everything kept with it) from ``source`` into ``target``.

    ``where`` names the source in errors. Raises RunConflictError when the target has the
    run with other facts.
    """
    record = source.get_run(run_id)
    devices = source.devices(run_id)
    samples = source.samples(run_id)
    label = f" (from {where})" if where else ""
    created = False
    existing: RunRecord | None
    try:
        existing = target.get_run(run_id)
    except RunNotFoundError:
        existing = None
    if existing is not None and existing.run_id != run_id:
        existing = None  # a prefix match of another run
    if existing is None:
        try:
            target.create_run(record, devices)
            created = True
        except LedgerError:
            existing = target.get_run(run_id)  # created meanwhile by another copier
    if existing is not None:
        _check_same_run(existing, record, label)
    target_samples = [] if created else target.samples(run_id)
    have = {sample_key(s): s for s in target_samples}
    missing: list[Sample] = []
    for s in samples:
        old = have.get(sample_key(s))
        if old is None:
            missing.append(s)
            have[sample_key(s)] = s
        elif not (
            _same_energy(old.energy_j, s.energy_j)
            and _same_energy(old.host_energy_j, s.host_energy_j)
        ):
            raise RunConflictError(
                f"run {run_id}{label}: device {s.device_id} at {s.t_start:.3f}-{s.t_end:.3f} "
                "has other energies in the target; refusing to count it twice"
            )
    heartbeat = record.heartbeat_at if record.heartbeat_at is not None else record.started_at
    added = _add_samples(target, run_id, missing, heartbeat)
    spans_added = _copy_spans(source, target, run_id, created)
    _copy_details(source, target, run_id)
    if record.status is not RunStatus.RUNNING and record.ended_at is not None:
        back = target.get_run(run_id)
        if (back.status, back.ended_at, back.exit_code) != (
            record.status,
            record.ended_at,
            record.exit_code,
        ):
            target.finish_run(run_id, record.status, record.ended_at, record.exit_code)
    return CopyResult(run_id, created, added, spans_added)


def _check_same_run(existing: RunRecord, record: RunRecord, label: str) -> None:
    host = existing.host.get("hostname"), record.host.get("hostname")
    if existing.started_at != record.started_at or host[0] != host[1]:
        raise RunConflictError(
            f"run {record.run_id}{label} differs from the target's run of that id "
            f"(started {record.started_at} on {host[1]} vs {existing.started_at} on {host[0]})"
        )


def _add_samples(target: Ledger, run_id: str, missing: list[Sample], heartbeat: float) -> int:
    merge = getattr(target, "merge_samples", None)
    if callable(merge):
        return int(merge(run_id, missing, heartbeat))
    if missing:
        target.append_samples(run_id, missing, heartbeat)
    return len(missing)


def _copy_spans(source: Ledger, target: Ledger, run_id: str, created: bool) -> int:
    spans = source.spans(run_id)
    if not spans:
        return 0
    merge = getattr(target, "merge_spans", None)
    if callable(merge):
        return int(merge(run_id, spans))
    have = set() if created else {_span_key(s) for s in target.spans(run_id)}
    added = 0
    for span in spans:
        if _span_key(span) not in have:
            target.add_span(run_id, span)
            have.add(_span_key(span))
            added += 1
    return added


def _copy_details(source: Ledger, target: Ledger, run_id: str) -> None:
    metrics = source.metrics(run_id)
    if metrics:
        old = target.metrics(run_id)
        changed = {k: v for k, v in metrics.items() if not _same_metric(old.get(k), v)}
        if changed:
            target.log_metrics(run_id, changed)
    unit = source.functional_unit(run_id)
    if unit is not None and target.functional_unit(run_id) != unit:
        target.set_functional_unit(run_id, *unit)
    series = source.series(run_id)
    if series is not None and target.series(run_id) != series:
        target.put_series(run_id, series)
    attachments = source.attachments(run_id)
    if attachments:
        old_attachments = target.attachments(run_id)
        for key, data in attachments.items():
            if old_attachments.get(key) != data:
                target.put_attachment(run_id, key, data)


def _same_metric(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b
