""":class:`RequestEnergySink`: charges each sample's energy to the requests in flight.

It consumes the run's samples (on the sampler's thread, off the request path), reads the
:class:`~carbonledger.serving.requestlog.RequestLog` the middleware fills, splits each
sample by :mod:`carbonledger.serving.attribution`, keeps energy no request was in flight
for in an idle bucket, and writes finished requests to the ledger in batches. When the run
stops it keeps a ``serving`` attachment: the method, the idle bucket, whether idle was
amortised, and the totals that let anyone check the parts add up to the run's energy.

    log = RequestLog()
    app = EnergyMiddleware(app, log)
    with carbonledger.track(sinks=[RequestEnergySink(log)]):
        uvicorn.run(app)
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from carbonledger.errors import ConfigError
from carbonledger.events import BaseSink, RunStarted, RunStopping
from carbonledger.records import Sample
from carbonledger.serving.attribution import METHODS, TIME_SHARE, Piece, Span, pieces, split_piece
from carbonledger.serving.requestlog import RequestLog, RequestRecord
from carbonledger.serving.routes import route_name
from carbonledger.serving.rows import SERVING_KEY, RequestRow, write_requests

__all__ = ["RequestEnergySink", "ServingTotals"]

log = logging.getLogger(__name__)


@dataclass
class ServingTotals:
    """What the sink charged so far: requests, idle, and everything it saw."""

    attribution: str
    idle_amortised: bool
    requests: int = 0
    request_energy_j: float = 0.0
    idle_energy_j: float = 0.0
    idle_s: float = 0.0
    seen_energy_j: float = 0.0  # every sample's energy the sink split
    unknown_samples: int = 0  # samples without energy (a failed read)
    open_at_stop: int = 0
    rows_written: int = 0
    rows_failed: int = 0
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "attribution": self.attribution,
            "idle_amortised": self.idle_amortised,
            "requests": self.requests,
            "request_energy_j": self.request_energy_j,
            "idle_energy_j": self.idle_energy_j,
            "idle_s": self.idle_s,
            "seen_energy_j": self.seen_energy_j,
            "unknown_samples": self.unknown_samples,
            "open_at_stop": self.open_at_stop,
            "rows_written": self.rows_written,
            "rows_failed": self.rows_failed,
            "warnings": list(self.warnings),
        }


@dataclass
class _Charge:
    record: RequestRecord
    energy_j: float = 0.0
    carbon_g: float | None = 0.0
    pending: int = 0  # pieces waiting for this request's tokens (method tokens)


class RequestEnergySink(BaseSink):
    """A run sink that attributes energy to the requests of a :class:`RequestLog`.

    ``attribution``: ``time-share`` (default) or ``tokens``. ``amortise_idle``: the
    summary spreads the idle bucket over the requests in proportion to their energy
    (recorded with the run; rows keep their active energy). ``ledger``: where rows go;
    default: the run's own ledger (the tracker binds it). Rows are written every
    ``batch_rows`` requests or ``flush_s`` seconds, and at the end.
    """

    name = "request-energy"

    def __init__(
        self,
        request_log: RequestLog,
        *,
        attribution: str = TIME_SHARE,
        amortise_idle: bool = False,
        ledger: Any = None,
        batch_rows: int = 500,
        flush_s: float = 2.0,
    ) -> None:
        if attribution not in METHODS:
            raise ConfigError(
                f"unknown request attribution {attribution!r}; known: {', '.join(METHODS)}"
            )
        self.request_log = request_log
        self.attribution = attribution
        self.ledger = ledger
        self.batch_rows = max(1, int(batch_rows))
        self.flush_s = float(flush_s)
        self.totals = ServingTotals(attribution, bool(amortise_idle))
        self._lock = threading.Lock()
        self._run_id: str | None = None
        self._plan: Any = None
        self._rel: float | None = None
        self._charges: dict[int, _Charge] = {}
        self._waiting: list[tuple[Piece, float | None, list[Span]]] = []  # tokens: deferred
        self._covered: dict[str, float] = {}
        self._idle_device: str | None = None
        self._buffer: list[RequestRow] = []
        self._batch_no = 0
        self._last_flush = time.monotonic()
        self.rows: list[RequestRow] = []  # every row written (also for tests and benchmarks)

    # -- wiring -----------------------------------------------------------------------
    def bind_ledger(self, ledger: Any) -> None:
        """The tracker hands its ledger (or writer) over, unless one was given."""
        if self.ledger is None:
            self.ledger = ledger

    def on_start(self, event: RunStarted) -> None:
        self._run_id = event.run_id
        rels = [d.uncertainty_rel for d in event.devices]
        self._rel = max(rels) if rels else None
        try:
            from carbonledger.lifecycle.plan import plan_for

            rec = event.record
            self._plan = plan_for(rec.zone, rec.pue, embodied_preset=rec.embodied, host=rec.host)
        except Exception as exc:
            self._plan = None
            self.totals.warnings.append(f"requests are not priced ({exc}); energy only")

    def on_samples(self, run_id: str, samples: Sequence[Sample]) -> None:
        with self._lock:
            self._take(samples)
            self._settle(final=False)
            if len(self._buffer) >= self.batch_rows or (
                self._buffer and time.monotonic() - self._last_flush >= self.flush_s
            ):
                self._flush(run_id)

    def on_stopping(self, event: RunStopping) -> None:
        with self._lock:
            self._take(())  # requests that ended after the last sample
            self._settle(final=True, ended_at=event.ended_at)
            self._flush(event.run_id)
            self._keep_totals(event.run_id)

    # -- internals --------------------------------------------------------------------
    def _grams(self, piece: Piece) -> float | None:
        if self._plan is None:
            return None
        try:
            sample = Sample("serving", piece.t0, piece.t1, piece.energy_j, piece.energy_j)
            priced = self._plan.grams(sample)
        except Exception:
            return None
        return None if priced is None else float(priced.g)

    def _take(self, samples: Sequence[Sample]) -> None:
        for record in self.request_log.snapshot():
            if record.request_id not in self._charges:
                self._charges[record.request_id] = _Charge(record)
        totals = self.totals
        for s in samples:
            if s.energy_j is None:
                totals.unknown_samples += 1
                continue
            if self._idle_device is None:
                self._idle_device = s.device_id
            self._covered[s.device_id] = max(self._covered.get(s.device_id, s.t_end), s.t_end)
            totals.seen_energy_j += s.energy_j
            spans = [
                Span(c.record.request_id, c.record.t_start, c.record.t_end, c.record.tokens)
                for c in self._charges.values()
                if c.record.t_start < max(s.t_end, s.t_start + 1e-9)
                and (c.record.t_end is None or c.record.t_end > s.t_start)
            ]
            for piece in pieces(s.t_start, s.t_end, s.energy_j, spans):
                grams = self._grams(piece)
                if piece.idle:
                    totals.idle_energy_j += piece.energy_j
                    if s.device_id == self._idle_device:
                        totals.idle_s += piece.t1 - piece.t0
                    continue
                if self.attribution != TIME_SHARE and any(
                    self._charges[i].record.t_end is None for i in piece.request_ids
                ):
                    for i in piece.request_ids:
                        self._charges[i].pending += 1
                    self._waiting.append((piece, grams, spans))
                    continue
                self._charge(piece, grams, spans)

    def _charge(self, piece: Piece, grams: float | None, spans: list[Span]) -> None:
        if self.attribution != TIME_SHARE:  # tokens are known now: take the final ones
            spans = [
                Span(i, c.record.t_start, c.record.t_end, c.record.tokens)
                for i in piece.request_ids
                if (c := self._charges.get(i)) is not None
            ]
        for request_id, fraction in split_piece(piece, spans, self.attribution).items():
            charge = self._charges.get(request_id)
            if charge is None:
                continue
            charge.energy_j += piece.energy_j * fraction
            if grams is None or charge.carbon_g is None:
                charge.carbon_g = None
            else:
                charge.carbon_g += grams * fraction

    def _settle(self, *, final: bool, ended_at: float | None = None) -> None:
        """Charge deferred pieces whose requests all ended; write requests no later
        sample can touch (all of them when ``final``)."""
        if self._waiting:
            still: list[tuple[Piece, float | None, list[Span]]] = []
            for piece, grams, spans in self._waiting:
                ready = final or all(
                    (c := self._charges.get(i)) is None or c.record.t_end is not None
                    for i in piece.request_ids
                )
                if not ready:
                    still.append((piece, grams, spans))
                    continue
                for i in piece.request_ids:
                    if (c := self._charges.get(i)) is not None:
                        c.pending -= 1
                self._charge(piece, grams, spans)
            self._waiting = still
        horizon = min(self._covered.values()) if self._covered else None
        done: list[int] = []
        for request_id, charge in self._charges.items():
            end = charge.record.t_end
            if final or (
                end is not None and charge.pending <= 0 and horizon is not None and end <= horizon
            ):
                done.append(request_id)
        for request_id in sorted(done):
            charge = self._charges.pop(request_id)
            self._buffer.append(self._row(charge, ended_at if final else None))

    def _row(self, charge: _Charge, run_end: float | None) -> RequestRow:
        rec = charge.record
        outcome = rec.outcome or "open"
        end = rec.t_end
        if end is None:
            self.totals.open_at_stop += 1
        try:
            route = route_name(rec.path, rec.route, rec.params)
        except Exception:
            route = "?"
        self.totals.requests += 1
        self.totals.request_energy_j += charge.energy_j
        return RequestRow(
            request_id=rec.request_id,
            route=route,
            http_method=rec.http_method[:16],
            status=rec.status if isinstance(rec.status, int) else None,
            outcome=outcome,
            started_at=rec.t_start,
            ended_at=end,
            latency_s=None if end is None else max(0.0, end - rec.t_start),
            tokens=rec.tokens,
            energy_j=charge.energy_j,
            carbon_g=charge.carbon_g,
            attribution=self.attribution,
            uncertainty_rel=self._rel,
        )

    def _target(self) -> Any:
        ledger = self.ledger
        return getattr(ledger, "ledger", ledger)  # a LedgerWriter: its ledger

    def _flush(self, run_id: str) -> None:
        self._last_flush = time.monotonic()
        if not self._buffer:
            return
        rows, self._buffer = self._buffer, []
        self.rows.extend(rows)
        target = self._target()
        if target is None:
            return
        self._batch_no += 1
        try:
            write_requests(target, run_id, rows, self._batch_no)
            self.totals.rows_written += len(rows)
        except Exception as exc:
            self.totals.rows_failed += len(rows)
            message = f"request rows could not be written ({exc}); {len(rows)} lost"
            if message not in self.totals.warnings:
                self.totals.warnings.append(message)
            log.warning("carbonledger.serving: %s", message)

    def _keep_totals(self, run_id: str) -> None:
        target = self._target()
        put = getattr(target, "put_attachment", None)
        if not callable(put):
            return
        data = self.totals.to_dict()
        data["balance_j"] = self.totals.seen_energy_j - (
            self.totals.request_energy_j + self.totals.idle_energy_j
        )
        if not math.isfinite(data["balance_j"]):
            data["balance_j"] = None
        try:
            put(run_id, SERVING_KEY, data)
        except Exception as exc:
            log.warning("carbonledger.serving: the serving totals were not kept (%s)", exc)
