"""The ledger protocol. The ledger keeps raw facts; carbon is derived from them later."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from carbonledger.records import DeviceInfo, RunRecord, RunStatus, Sample, SpanRecord

__all__ = ["Ledger", "MetricValue"]

MetricValue = float | int | str | bool


class Ledger(Protocol):
    """Storage of runs, devices, samples, spans and metrics. Every write is atomic."""

    def create_run(self, run: RunRecord, devices: Sequence[DeviceInfo]) -> None: ...

    def append_samples(self, run_id: str, samples: Sequence[Sample], heartbeat_at: float) -> None:
        """Add samples and refresh the run's heartbeat, in one transaction."""
        ...

    def add_span(self, run_id: str, span: SpanRecord) -> None: ...

    def log_metrics(self, run_id: str, metrics: Mapping[str, MetricValue]) -> None: ...

    def set_functional_unit(self, run_id: str, name: str, count: float) -> None: ...

    def finish_run(
        self, run_id: str, status: RunStatus, ended_at: float, exit_code: int | None = None
    ) -> None: ...

    def get_run(self, run_id_or_prefix: str) -> RunRecord:
        """A run by id or unique prefix; a run whose tracker died reads as interrupted.

        Raises RunNotFoundError for none or an ambiguous prefix.
        """
        ...

    def list_runs(self) -> list[RunRecord]: ...

    def devices(self, run_id: str) -> list[DeviceInfo]: ...

    def samples(self, run_id: str) -> list[Sample]: ...

    def spans(self, run_id: str) -> list[SpanRecord]: ...

    def metrics(self, run_id: str) -> dict[str, MetricValue]: ...

    def functional_unit(self, run_id: str) -> tuple[str, float] | None: ...

    def close(self) -> None: ...
