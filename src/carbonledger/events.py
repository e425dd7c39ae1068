"""Run events and their consumers (sinks).

The sampler *reads*; sinks *consume*. A tracker feeds every event of a run to a list of
sinks: the ledger writer is one, budgets and forecasts are another, and users, exporters
and framework callbacks add their own (``cl.track(..., sinks=[my_sink])``), as
OpenTelemetry separates metric readers from exporters.

A sink implements any subset of the :class:`RunSink` methods (subclass :class:`BaseSink`
for no-op defaults). A sink that raises is logged once and dropped for the rest of the
run; it never stops the other sinks nor reaches the host program.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from carbonledger.records import DeviceInfo, RunRecord, RunStatus, Sample, SpanRecord

if TYPE_CHECKING:
    from carbonledger.lifecycle.footprint import Footprint

__all__ = [
    "BaseSink",
    "RunEnded",
    "RunSink",
    "RunStarted",
    "RunStopping",
    "SinkFanout",
]

log = logging.getLogger(__name__)

MetricValue = float | int | str | bool


@dataclass(frozen=True)
class RunStarted:
    """A run has started: its record (as stored) and the devices it measures."""

    record: RunRecord
    devices: tuple[DeviceInfo, ...]

    @property
    def run_id(self) -> str:
        return self.record.run_id


@dataclass(frozen=True)
class RunStopping:
    """A run is ending: its last samples have been delivered and it is about to be closed
    in the ledger and priced. Sinks that keep facts with the run write them now."""

    record: RunRecord
    status: RunStatus
    ended_at: float
    exit_code: int | None

    @property
    def run_id(self) -> str:
        return self.record.run_id


@dataclass(frozen=True)
class RunEnded:
    """A run has ended. ``footprint`` is its final footprint, or ``None`` when it could not
    be priced (the reason is in ``warnings``)."""

    record: RunRecord
    status: RunStatus
    ended_at: float
    exit_code: int | None
    footprint: Footprint | None
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def run_id(self) -> str:
        return self.record.run_id


@runtime_checkable
class RunSink(Protocol):
    """A consumer of run events. Every method is optional; each is called from the thread
    where the event happened (``on_samples`` from the sampler's thread), so keep them quick
    and thread-safe, and hand slow work (network) to a thread of your own."""

    def on_start(self, event: RunStarted) -> None: ...

    def on_samples(self, run_id: str, samples: Sequence[Sample]) -> None: ...

    def on_span(self, run_id: str, span: SpanRecord) -> None: ...

    def on_metrics(self, run_id: str, metrics: Mapping[str, MetricValue]) -> None: ...

    def on_stopping(self, event: RunStopping) -> None: ...

    def on_end(self, event: RunEnded) -> None: ...


class BaseSink:
    """A sink that ignores every event: subclass it and override what you need."""

    def on_start(self, event: RunStarted) -> None:
        return None

    def on_samples(self, run_id: str, samples: Sequence[Sample]) -> None:
        return None

    def on_span(self, run_id: str, span: SpanRecord) -> None:
        return None

    def on_metrics(self, run_id: str, metrics: Mapping[str, MetricValue]) -> None:
        return None

    def on_stopping(self, event: RunStopping) -> None:
        return None

    def on_end(self, event: RunEnded) -> None:
        return None


_EVENTS = ("on_start", "on_samples", "on_span", "on_metrics", "on_stopping", "on_end")


class SinkFanout:
    """Delivers each event to every live sink, in order. A sink that raises is dropped with
    one warning (passed to ``warn``, which keeps it with the run) and the others go on."""

    def __init__(self, sinks: Sequence[object], *, warn: Callable[[str], None]) -> None:
        for sink in sinks:
            if not any(callable(getattr(sink, name, None)) for name in _EVENTS):
                from carbonledger.errors import ConfigError

                raise ConfigError(
                    f"sink {sink!r} has none of the methods {', '.join(_EVENTS)}; "
                    "see carbonledger.events.RunSink"
                )
        self._sinks: list[object] = list(sinks)
        self._warn = warn

    @property
    def sinks(self) -> list[object]:
        return list(self._sinks)

    def add(self, sink: object) -> None:
        self._sinks.append(sink)

    def _deliver(self, method: str, *args: Any) -> None:
        for sink in list(self._sinks):
            handler = getattr(sink, method, None)
            if handler is None:
                continue
            try:
                handler(*args)
            except Exception as exc:
                if sink in self._sinks:
                    self._sinks.remove(sink)
                name = getattr(sink, "name", None) or type(sink).__name__
                self._warn(f"sink {name} failed in {method} ({exc!r}) and was dropped")

    def start(self, event: RunStarted) -> None:
        self._deliver("on_start", event)

    def samples(self, run_id: str, samples: Sequence[Sample]) -> None:
        self._deliver("on_samples", run_id, samples)

    def span(self, run_id: str, span: SpanRecord) -> None:
        self._deliver("on_span", run_id, span)

    def metrics(self, run_id: str, metrics: Mapping[str, MetricValue]) -> None:
        self._deliver("on_metrics", run_id, metrics)

    def stopping(self, event: RunStopping) -> None:
        self._deliver("on_stopping", event)

    def end(self, event: RunEnded) -> None:
        self._deliver("on_end", event)
