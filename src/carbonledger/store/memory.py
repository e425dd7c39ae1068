"""An in-memory ledger: the whole protocol, thread-safe, nothing written to disk.

``memory://NAME`` opened twice in one process shares its data (a tracker and a reader
can meet); ``memory://`` alone is private to the object. Data lives as long as the
process (``forget(NAME)`` drops a named one). Rows are encoded and checked by the same
code as the SQLite ledger's, so both store, refuse and read back the same things.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any

from carbonledger.errors import (
    ConfigError,
    CorruptRunError,
    DataError,
    LedgerError,
    RunNotFoundError,
)
from carbonledger.records import DeviceInfo, RunRecord, RunStatus, Sample, SpanRecord
from carbonledger.store._rows import (
    clean_text,
    decode_device,
    decode_metric_row,
    decode_run,
    decode_sample,
    decode_span,
    dumps,
    encode_device,
    encode_metric,
    encode_run,
    encode_sample,
    encode_span,
    loads_blob,
)
from carbonledger.store.base import BadRowHandler, MetricValue, warn_bad_row
from carbonledger.store.liveness import DEFAULT_STALE_AFTER_S, settle

if TYPE_CHECKING:
    from carbonledger.intensity.series import IntensitySeries
    from carbonledger.serving.rows import RequestRow

__all__ = ["MemoryLedger", "forget", "open_memory_url"]

_CANDIDATES_SHOWN = 5


@dataclass
class _Store:
    """One ledger's rows (encoded as the SQLite ledger encodes them)."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    order: dict[str, int] = field(default_factory=dict)
    devices: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    samples: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    spans: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    metrics: dict[str, dict[str, tuple[str, Any, int, float]]] = field(default_factory=dict)
    series: dict[str, str] = field(default_factory=dict)
    attachments: dict[str, dict[str, str]] = field(default_factory=dict)
    requests: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    created: int = 0


_SHARED: dict[str, _Store] = {}
_SHARED_LOCK = threading.Lock()


def _shared(name: str) -> _Store:
    with _SHARED_LOCK:
        store = _SHARED.get(name)
        if store is None:
            store = _SHARED[name] = _Store()
        return store


def forget(name: str) -> None:
    """Drop the data of ``memory://NAME`` (handles still open keep the old data)."""
    with _SHARED_LOCK:
        _SHARED.pop(name, None)


class MemoryLedger:
    """A :class:`~carbonledger.store.base.Ledger` held in memory.

    ``name`` shares the data with every other ``MemoryLedger`` of that name in the
    process; ``None`` gives a private ledger.
    """

    def __init__(
        self, name: str | None = None, *, stale_after_s: float = DEFAULT_STALE_AFTER_S
    ) -> None:
        self.name = name
        self.stale_after_s = float(stale_after_s)
        self._store = _Store() if name is None else _shared(name)
        self._closed = False
        self._where = f"memory://{name or ''}"

    # -- plumbing ------------------------------------------------------------------
    def _open(self) -> _Store:
        if self._closed:
            raise LedgerError(f"ledger {self._where} is closed")
        return self._store

    def _row(self, store: _Store, run_id: str) -> dict[str, Any]:
        row = store.runs.get(run_id)
        if row is None:
            raise RunNotFoundError(f"no run {run_id!r} in ledger {self._where}")
        return row

    # -- writes --------------------------------------------------------------------
    def create_run(self, run: RunRecord, devices: Sequence[DeviceInfo]) -> None:
        """Store a new run and its devices; an existing run id raises LedgerError."""
        row = encode_run(run)
        row.update(functional_unit_name=None, functional_unit_count=None)
        device_rows = [encode_device(run.run_id, i, d)[2:] for i, d in enumerate(devices)]
        run_id = row["run_id"]
        store = self._open()
        with store.lock:
            if run_id in store.runs:
                raise LedgerError(f"run {run_id!r} already exists in ledger {self._where}")
            ids = [r[0] for r in device_rows]
            if len(set(ids)) != len(ids):
                raise LedgerError(f"ledger {self._where}: create run rejected: a device id repeats")
            store.runs[run_id] = row
            store.created += 1
            store.order[run_id] = store.created
            store.devices[run_id] = device_rows
            store.samples[run_id] = []
            store.spans[run_id] = []
            store.metrics[run_id] = {}
            store.attachments[run_id] = {}

    def append_samples(self, run_id: str, samples: Sequence[Sample], heartbeat_at: float) -> None:
        """Add samples and refresh the heartbeat at once."""
        run_id = clean_text(run_id)
        rows = [encode_sample(run_id, s)[1:] for s in samples]
        store = self._open()
        with store.lock:
            row = self._row(store, run_id)
            last = row["heartbeat_at"]
            row["heartbeat_at"] = heartbeat_at if last is None else max(last, heartbeat_at)
            store.samples[run_id].extend(rows)

    def add_span(self, run_id: str, span: SpanRecord) -> None:
        """Store one span (spans of the same path may repeat)."""
        row = encode_span(run_id, span)
        store = self._open()
        with store.lock:
            self._row(store, row[0])
            store.spans[row[0]].append(row[1:])

    def log_metrics(self, run_id: str, metrics: Mapping[str, MetricValue]) -> None:
        """Store metrics; a name logged again keeps its last value."""
        run_id = clean_text(run_id)
        logged_at = time.time()
        encoded = [
            (clean_text(str(name)), *encode_metric(str(name), value))
            for name, value in metrics.items()
        ]
        store = self._open()
        with store.lock:
            self._row(store, run_id)
            table = store.metrics[run_id]
            for name, kind, value in encoded:
                step = table[name][2] + 1 if name in table else 1
                table[name] = (kind, value, step, logged_at)

    def set_functional_unit(self, run_id: str, name: str, count: float) -> None:
        """The run's functional unit (SCI's R), e.g. ``("images", 1.2e6)``."""
        run_id = clean_text(run_id)
        store = self._open()
        with store.lock:
            row = self._row(store, run_id)
            row["functional_unit_name"] = clean_text(name)
            row["functional_unit_count"] = count

    def put_series(self, run_id: str, series: IntensitySeries) -> None:
        """Keep the run's intensity series (its ``to_dict`` as JSON), replacing any earlier."""
        run_id = clean_text(run_id)
        text = dumps(series.to_dict(), "intensity series", run_id)
        store = self._open()
        with store.lock:
            self._row(store, run_id)
            store.series[run_id] = text

    def put_attachment(self, run_id: str, key: str, data: Mapping[str, Any]) -> None:
        """Keep a JSON object under ``key``, replacing an earlier one of that key."""
        run_id, key = clean_text(run_id), clean_text(str(key))
        if not isinstance(data, Mapping):
            raise DataError(f"run {run_id}: attachment {key!r} must be a mapping (a JSON object)")
        text = dumps(dict(data), f"attachment {key!r}", run_id)
        store = self._open()
        with store.lock:
            self._row(store, run_id)
            store.attachments[run_id][key] = text

    def append_requests(self, run_id: str, rows: Sequence[RequestRow]) -> None:
        """Add a batch of per-request rows (carbonledger.serving)."""
        run_id = clean_text(run_id)
        encoded = [r.to_dict() for r in rows]
        store = self._open()
        with store.lock:
            self._row(store, run_id)
            store.requests.setdefault(run_id, []).extend(encoded)

    def requests(self, run_id: str) -> list[RequestRow]:
        """The run's per-request rows, in the order they were appended."""
        from carbonledger.serving.rows import row_from_dict

        run_id = clean_text(run_id)
        store = self._open()
        with store.lock:
            self._row(store, run_id)
            rows = list(store.requests.get(run_id, ()))
        where = f"ledger {self._where} run {run_id}"
        return [row_from_dict(r, f"{where} request {i}") for i, r in enumerate(rows)]

    def finish_run(
        self, run_id: str, status: RunStatus, ended_at: float, exit_code: int | None = None
    ) -> None:
        """Close a run."""
        status_text = RunStatus(status).value
        run_id = clean_text(run_id)
        store = self._open()
        with store.lock:
            row = self._row(store, run_id)
            row.update(status=status_text, ended_at=ended_at, exit_code=exit_code)

    # -- reads ---------------------------------------------------------------------
    def _decoded(self, store: _Store, run_id: str) -> RunRecord:
        """The run as readers see it (checked; a gone tracker reads as interrupted)."""
        run = decode_run(store.runs[run_id], self._where)
        ends = [r[2] for r in store.samples[run_id] if isinstance(r[2], (int, float))]
        return settle(
            run,
            now=time.time(),
            stale_after_s=self.stale_after_s,
            last_sample_end=max(ends) if ends else None,
        )

    def _newest_first(self, store: _Store, ids: Sequence[str]) -> list[str]:
        def key(run_id: str) -> tuple[float, int]:
            started = store.runs[run_id].get("started_at")
            return (started if isinstance(started, (int, float)) else 0.0, store.order[run_id])

        return sorted(ids, key=key, reverse=True)

    def get_run(self, run_id_or_prefix: str) -> RunRecord:
        """A run by exact id or unique prefix; a run whose tracker died reads as interrupted."""
        key = clean_text(run_id_or_prefix.strip())
        if not key:
            raise RunNotFoundError(f"empty run id for ledger {self._where}")
        store = self._open()
        with store.lock:
            if key in store.runs:
                return self._decoded(store, key)
            found = self._newest_first(store, [r for r in store.runs if r.startswith(key)])
            if not found:
                raise RunNotFoundError(f"no run matches {key!r} in ledger {self._where}")
            if len(found) > 1:
                shown = ", ".join(
                    f"{r} ({store.runs[r].get('name')})" for r in found[:_CANDIDATES_SHOWN]
                )
                more = ", …" if len(found) > _CANDIDATES_SHOWN else ""
                raise RunNotFoundError(
                    f"run id prefix {key!r} is ambiguous in ledger {self._where}: {shown}{more}"
                )
            return self._decoded(store, found[0])

    def job_runs(self, job_key: str, *, on_bad_row: BadRowHandler | None = None) -> list[RunRecord]:
        """The runs of one distributed job, oldest first."""
        runs = [
            r
            for r in self.list_runs(on_bad_row=on_bad_row)
            if r.job is not None and r.job.key == job_key
        ]
        return runs[::-1]

    def list_runs(self, *, on_bad_row: BadRowHandler | None = None) -> list[RunRecord]:
        """Every readable run, newest first; damaged ones go to ``on_bad_row``."""
        store = self._open()
        good: list[RunRecord] = []
        bad: list[CorruptRunError] = []
        with store.lock:
            for run_id in self._newest_first(store, list(store.runs)):
                try:
                    good.append(self._decoded(store, run_id))
                except CorruptRunError as exc:
                    bad.append(exc)
        report = warn_bad_row if on_bad_row is None else on_bad_row
        for error in bad:
            report(error)
        return good

    def devices(self, run_id: str) -> list[DeviceInfo]:
        """The run's devices, in the order they were given to ``create_run``."""
        run_id = clean_text(run_id)
        store = self._open()
        with store.lock:
            self._row(store, run_id)
            rows = list(store.devices[run_id])
        return [decode_device(r, run_id, self._where) for r in rows]

    def samples(self, run_id: str) -> list[Sample]:
        """The run's samples in the order they were appended; unknown values stay None."""
        run_id = clean_text(run_id)
        store = self._open()
        with store.lock:
            self._row(store, run_id)
            rows = list(store.samples[run_id])
        return [decode_sample(r, run_id, i, self._where) for i, r in enumerate(rows)]

    def spans(self, run_id: str) -> list[SpanRecord]:
        """The run's spans in the order they were added."""
        run_id = clean_text(run_id)
        store = self._open()
        with store.lock:
            self._row(store, run_id)
            rows = list(store.spans[run_id])
        return [decode_span(r, run_id, self._where) for r in rows]

    def metrics(self, run_id: str) -> dict[str, MetricValue]:
        """The last value logged under each name, with its type."""
        run_id = clean_text(run_id)
        store = self._open()
        with store.lock:
            self._row(store, run_id)
            rows = sorted(store.metrics[run_id].items())
        return {
            name: decode_metric_row(name, kind, value, run_id, self._where)
            for name, (kind, value, _step, _at) in rows
        }

    def functional_unit(self, run_id: str) -> tuple[str, float] | None:
        """``(name, count)`` or None when none was set."""
        run_id = clean_text(run_id)
        store = self._open()
        with store.lock:
            row = self._row(store, run_id)
            name, count = row["functional_unit_name"], row["functional_unit_count"]
        if name is None or count is None:
            return None
        return str(name), float(count)

    def series(self, run_id: str) -> IntensitySeries | None:
        """The series kept with :meth:`put_series`, or None."""
        from carbonledger.store.sqlite_rows import series_from_json

        run_id = clean_text(run_id)
        store = self._open()
        with store.lock:
            self._row(store, run_id)
            text = store.series.get(run_id)
        return None if text is None else series_from_json(text, run_id, self._where)

    def attachments(self, run_id: str) -> dict[str, Any]:
        """Every attachment of the run, key -> JSON object (keys in sorted order)."""
        run_id = clean_text(run_id)
        store = self._open()
        with store.lock:
            self._row(store, run_id)
            rows = sorted(store.attachments[run_id].items())
        return {
            key: loads_blob(text, f"attachment {key!r}", run_id, self._where) for key, text in rows
        }

    # -- lifetime ------------------------------------------------------------------
    def close(self) -> None:
        """Close this handle (idempotent); a named ledger's data stays for other handles."""
        self._closed = True

    def __enter__(self) -> MemoryLedger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"MemoryLedger({self._where!r})"


def open_memory_url(
    url: str, *, stale_after_s: float = DEFAULT_STALE_AFTER_S, **_sqlite_only: Any
) -> MemoryLedger:
    """The registry's factory for ``memory://NAME`` (shared) and ``memory://`` (private)."""
    prefix = "memory://"
    if not url.lower().startswith(prefix):
        raise ConfigError(f"ledger URL {url!r}: write memory://NAME or memory://")
    name = url[len(prefix) :].strip()
    return MemoryLedger(name or None, stale_after_s=stale_after_s)
