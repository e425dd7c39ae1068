"""What pricing reads of a run besides its samples, read for many runs at once.

Pricing a stored run needs its devices, spans, metrics, functional unit, kept intensity
series and kept warnings. A listing reads them per page: a backend that can (SQLite: one
query per table for the page) implements the optional :meth:`many_run_facts`; every
other backend gets the same answers from its per-run reads through
:func:`facts_from_reads`. :func:`many_run_facts` is what callers use.

A run whose facts cannot be read (damaged, or gone) is left out of the answer, so the
caller reads it on its own and reports the error that reading names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from carbonledger.errors import CarbonLedgerError
from carbonledger.records import DeviceInfo, SpanRecord

if TYPE_CHECKING:
    from carbonledger.intensity.series import IntensitySeries
    from carbonledger.store.base import Ledger, MetricValue

__all__ = [
    "FactsLedger",
    "RunFacts",
    "attachment_facts",
    "facts_from_reads",
    "kept_standby",
    "kept_warnings",
    "many_run_facts",
]


@dataclass(frozen=True)
class RunFacts:
    """One run's stored facts that pricing reads (everything but its samples).

    ``warnings`` are the caveats the tracker kept with the run (its ``warnings``
    attachment's messages; empty when it has none or its attachments cannot be read).
    """

    devices: tuple[DeviceInfo, ...]
    spans: tuple[SpanRecord, ...]
    metrics: Mapping[str, MetricValue]
    functional_unit: tuple[str, float] | None
    series: IntensitySeries | None
    warnings: tuple[str, ...]
    standby: tuple[str, ...] = ()
    """Devices this run held but never measured: another process of its job on the same
    node did (its ``job`` attachment's ``measured_since`` is null for them)."""


@runtime_checkable
class FactsLedger(Protocol):
    """The optional batch read (see the module doc)."""

    def many_run_facts(self, run_ids: Sequence[str]) -> dict[str, RunFacts]: ...


def kept_standby(attachments: Mapping[str, Any]) -> tuple[str, ...]:
    """The devices a job's standby rank never measured (its ``job`` attachment)."""
    job = attachments.get("job")
    since = job.get("measured_since") if isinstance(job, dict) else None
    if not isinstance(since, dict):
        return ()
    return tuple(sorted(str(d) for d, t in since.items() if t is None))


def attachment_facts(attachments: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(kept warnings, standby devices) of a run's decoded attachments."""
    return kept_warnings(attachments), kept_standby(attachments)


def kept_warnings(attachments: Mapping[str, Any]) -> tuple[str, ...]:
    """The messages of a run's ``warnings`` attachment (none when it is not a list)."""
    kept = attachments.get("warnings") or {}
    messages = kept.get("messages") if isinstance(kept, dict) else None
    return tuple(str(m) for m in messages) if isinstance(messages, list) else ()


def _attachment_facts(ledger: Ledger, run_id: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    reader = getattr(ledger, "attachments", None)
    if reader is None:
        return (), ()
    try:
        found: Mapping[str, Any] = reader(run_id)
    except Exception:
        return (), ()
    return attachment_facts(found)


def facts_from_reads(ledger: Ledger, run_id: str, *, with_series: bool = True) -> RunFacts:
    """One run's facts from the ledger's per-run reads (the generic fallback, and the
    reference a batch read must equal), in the order pricing has always read them.
    Raises what those reads raise. ``with_series=False`` leaves the kept series unread
    (None): a run re-priced with another series does not need it."""
    devices = tuple(ledger.devices(run_id))
    warnings, standby = _attachment_facts(ledger, run_id)
    reader = getattr(ledger, "series", None) if with_series else None
    series = reader(run_id) if reader is not None else None
    return RunFacts(
        devices=devices,
        spans=tuple(ledger.spans(run_id)),
        metrics=ledger.metrics(run_id),
        functional_unit=ledger.functional_unit(run_id),
        series=series,
        warnings=warnings,
        standby=standby,
    )


def many_run_facts(ledger: Ledger, run_ids: Sequence[str]) -> dict[str, RunFacts]:
    """The facts of ``run_ids`` (one query per table where the ledger can); a run whose
    facts cannot be read is left out (its own read names the error)."""
    own = getattr(ledger, "many_run_facts", None)
    if callable(own):
        found: dict[str, RunFacts] = own(run_ids)
        return found
    out: dict[str, RunFacts] = {}
    for run_id in run_ids:
        try:
            out[run_id] = facts_from_reads(ledger, run_id)
        except CarbonLedgerError:
            continue
    return out
