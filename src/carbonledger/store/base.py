"""The ledger protocol. The ledger keeps raw facts; carbon is derived from them later.

A ledger is self-contained: everything needed to re-price a run (its devices, samples,
intensity series, embodied preset, attachments) is stored in it, never in files beside
it. Backends are found by URL scheme (:mod:`carbonledger.store.registry`) and must pass
the contract in :mod:`carbonledger.testing`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from carbonledger.records import DeviceInfo, RunRecord, RunStatus, Sample, SpanRecord

if TYPE_CHECKING:
    from carbonledger.errors import CorruptRunError
    from carbonledger.intensity.series import IntensitySeries

__all__ = ["BadRowHandler", "Ledger", "MetricValue"]

MetricValue = float | int | str | bool
BadRowHandler = Callable[["CorruptRunError"], None]
"""Called once per run a listing skipped because its stored row is damaged."""


class Ledger(Protocol):
    """Storage of runs, devices, samples, spans and metrics. Every write is atomic.

    Reads of one run raise :class:`~carbonledger.errors.CorruptRunError` (naming the run
    and field) when its stored data is damaged; listings skip such runs and report each
    to ``on_bad_row`` (default: a logged warning).
    """

    def create_run(self, run: RunRecord, devices: Sequence[DeviceInfo]) -> None: ...

    def append_samples(self, run_id: str, samples: Sequence[Sample], heartbeat_at: float) -> None:
        """Add samples and refresh the run's heartbeat, in one transaction."""
        ...

    def add_span(self, run_id: str, span: SpanRecord) -> None: ...

    def log_metrics(self, run_id: str, metrics: Mapping[str, MetricValue]) -> None: ...

    def set_functional_unit(self, run_id: str, name: str, count: float) -> None: ...

    def put_series(self, run_id: str, series: IntensitySeries) -> None:
        """Keep the intensity series the run is priced with (replacing an earlier one)."""
        ...

    def put_attachment(self, run_id: str, key: str, data: Mapping[str, Any]) -> None:
        """Keep a JSON object under ``key`` (replacing an earlier one of that key)."""
        ...

    def finish_run(
        self, run_id: str, status: RunStatus, ended_at: float, exit_code: int | None = None
    ) -> None: ...

    def get_run(self, run_id_or_prefix: str) -> RunRecord:
        """A run by id or unique prefix; a run whose tracker died reads as interrupted.

        Raises RunNotFoundError for none or an ambiguous prefix.
        """
        ...

    def list_runs(self, *, on_bad_row: BadRowHandler | None = None) -> list[RunRecord]:
        """Every readable run, newest first; damaged ones go to ``on_bad_row``."""
        ...

    def devices(self, run_id: str) -> list[DeviceInfo]: ...

    def samples(self, run_id: str) -> list[Sample]: ...

    def spans(self, run_id: str) -> list[SpanRecord]: ...

    def metrics(self, run_id: str) -> dict[str, MetricValue]: ...

    def functional_unit(self, run_id: str) -> tuple[str, float] | None: ...

    def series(self, run_id: str) -> IntensitySeries | None:
        """The series kept with :meth:`put_series`, or None."""
        ...

    def attachments(self, run_id: str) -> dict[str, Any]:
        """Every attachment of the run, key -> JSON object."""
        ...

    def close(self) -> None: ...


_WARNED: set[str] = set()


def warn_bad_row(error: CorruptRunError) -> None:
    """The default ``on_bad_row``: one logged warning per damaged run and process."""
    import logging

    text = str(error)
    if text in _WARNED:
        return
    _WARNED.add(text)
    logging.getLogger("carbonledger.store").warning("%s (run left out)", text)
