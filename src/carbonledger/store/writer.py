"""A tracker's link to its ledger: buffered, batched, and never raising into the host."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from carbonledger.errors import CarbonLedgerError
from carbonledger.records import Sample, SpanRecord
from carbonledger.store.base import Ledger

__all__ = ["LedgerWriter"]


class LedgerWriter:
    """Buffers samples and spans and writes them every ``flush_interval_s`` (samples in one
    transaction that also refreshes the run's heartbeat). Failures become warnings.

    When ``ledger_path`` cannot be used, a fallback ledger in the temporary folder is
    opened instead, and ``warn`` says where.
    """

    def __init__(
        self, ledger_path: Path, *, flush_interval_s: float, warn: Callable[[str], None]
    ) -> None:
        from carbonledger.store import open_ledger

        self._warn = warn
        self.flush_interval_s = flush_interval_s
        try:
            self.ledger: Ledger = open_ledger(ledger_path)
        except CarbonLedgerError as exc:
            fallback = Path(tempfile.gettempdir()) / f"carbonledger-fallback-{os.getpid()}.sqlite"
            warn(f"cannot use ledger {ledger_path} ({exc}); writing to {fallback}")
            self.ledger = open_ledger(fallback)
        self._lock = threading.Lock()
        self._samples: list[Sample] = []
        self._spans: list[SpanRecord] = []
        self._last_flush = time.time()

    def call(self, method: str, *args: Any) -> None:
        """Call a ledger method now; a failure is a warning, never an exception."""
        try:
            getattr(self.ledger, method)(*args)
        except Exception as exc:
            self._warn(f"ledger write ({method}) failed: {exc!r}")

    def add_samples(self, samples: list[Sample]) -> None:
        with self._lock:
            self._samples.extend(samples)

    def add_span(self, span: SpanRecord) -> None:
        with self._lock:
            self._spans.append(span)

    def maybe_flush(self, run_id: str) -> None:
        if time.time() - self._last_flush >= self.flush_interval_s:
            self.flush(run_id)

    def flush(self, run_id: str) -> None:
        with self._lock:
            samples, self._samples = self._samples, []
            spans, self._spans = self._spans, []
        now = time.time()
        self._last_flush = now
        self.call("append_samples", run_id, samples, now)
        for span in spans:
            self.call("add_span", run_id, span)

    def close(self) -> None:
        try:
            self.ledger.close()
        except Exception as exc:
            self._warn(f"closing the ledger failed: {exc!r}")
