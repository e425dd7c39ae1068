"""The ledger as a consumer of run events: buffered, batched, never raising into the host."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from carbonledger.events import BaseSink, RunStarted, RunStopping
from carbonledger.records import Sample, SpanRecord
from carbonledger.store.writer import LedgerWriter

__all__ = ["LedgerSink"]


class LedgerSink(BaseSink):
    """Writes a run's events to its ledger through a :class:`LedgerWriter` (samples and
    spans buffered and flushed every ``flush_interval_s``; the run closed on stopping)."""

    name = "ledger"

    def __init__(self, writer: LedgerWriter) -> None:
        self.writer = writer
        self._run_id: str | None = None

    def on_start(self, event: RunStarted) -> None:
        self._run_id = event.run_id
        self.writer.call("create_run", event.record, list(event.devices))

    def on_samples(self, run_id: str, samples: Sequence[Sample]) -> None:
        self.writer.add_samples(list(samples))

    def on_span(self, run_id: str, span: SpanRecord) -> None:
        self.writer.add_span(span)

    def on_metrics(self, run_id: str, metrics: Mapping[str, Any]) -> None:
        self.writer.call("log_metrics", run_id, dict(metrics))

    def on_stopping(self, event: RunStopping) -> None:
        self.writer.flush(event.run_id)
        self.writer.call("finish_run", event.run_id, event.status, event.ended_at, event.exit_code)

    def tick(self) -> None:
        """On the sampler's cadence: flush when due (this also refreshes the heartbeat)."""
        if self._run_id is not None:
            self.writer.maybe_flush(self._run_id)

    def keep(self, method: str, *args: Any) -> bool:
        """Call an optional ledger method (``put_series``, ``put_attachment``) when this
        ledger has it; False when it does not."""
        if not callable(getattr(self.writer.ledger, method, None)):
            return False
        self.writer.call(method, *args)
        return True
