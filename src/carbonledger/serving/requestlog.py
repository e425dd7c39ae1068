"""The requests a server is handling: started and ended by the middleware, read by the sink.

The request path does as little as it can: :meth:`RequestLog.begin` takes the time and
puts a small record in a dict, :meth:`RequestLog.end` takes the time and moves it to a
queue. Everything else (route templates, attribution, carbon, ledger writes) happens on
the sampler's thread in :class:`~carbonledger.serving.sink.RequestEnergySink`. Both
calls are safe from any thread; dict and deque operations are atomic in CPython.

Tokens: an app reports a request's tokens with :func:`report_tokens` (a context
variable set by the middleware around the request) or a response header
(``x-carbonledger-tokens`` by default).
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

__all__ = [
    "OUTCOMES",
    "RequestLog",
    "RequestRecord",
    "current_request",
    "report_tokens",
]

#: how a request ended: a response sent, the client went away, the app raised, or the
#: run stopped while the request was still in flight
OUTCOMES = ("ok", "disconnect", "error", "open")
_MAX_ENDED = 1_000_000  # requests ended but not yet read by a sink; the oldest go first


class RequestRecord:
    """One request as the middleware saw it (mutable, filled as the request goes)."""

    __slots__ = (
        "http_method",
        "outcome",
        "params",
        "path",
        "request_id",
        "route",
        "status",
        "t_end",
        "t_start",
        "tokens",
    )

    def __init__(self, request_id: int, http_method: str, path: str, t_start: float) -> None:
        self.request_id = request_id
        self.http_method = http_method
        self.path = path
        self.t_start = t_start
        self.t_end: float | None = None
        self.status: int | None = None
        self.tokens: int | None = None
        self.outcome: str | None = None
        self.route: str | None = None  # the framework's route template, when it says
        self.params: dict[str, Any] | None = None  # path parameters, when it says

    def __repr__(self) -> str:
        return (
            f"RequestRecord({self.request_id}, {self.http_method} {self.path!r}, "
            f"status={self.status}, outcome={self.outcome})"
        )


_CURRENT: ContextVar[RequestRecord | None] = ContextVar("carbonledger_request", default=None)


def current_request() -> RequestRecord | None:
    """The request the calling code is serving (inside the middleware), else None."""
    return _CURRENT.get()


def report_tokens(count: int) -> bool:
    """Report the tokens the current request produced (added up over calls).

    Returns False (and does nothing) outside a request the middleware tracks; never raises.
    """
    record = _CURRENT.get()
    if record is None:
        return False
    try:
        n = int(count)
    except (TypeError, ValueError):
        return False
    if n < 0:
        return False
    record.tokens = n if record.tokens is None else record.tokens + n
    return True


class RequestLog:
    """In-flight and ended requests, shared by a middleware and a sink."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._ids = itertools.count(1)
        self._active: dict[int, RequestRecord] = {}
        self._ended: deque[RequestRecord] = deque(maxlen=_MAX_ENDED)
        self.enabled = True

    def begin(self, http_method: str, path: str) -> RequestRecord:
        record = RequestRecord(next(self._ids), http_method, path, self._clock())
        self._active[record.request_id] = record
        return record

    def end(self, record: RequestRecord, outcome: str = "ok") -> None:
        """Mark ``record`` ended now (a second call does nothing)."""
        if record.t_end is not None:
            return
        record.outcome = outcome
        record.t_end = self._clock()
        self._active.pop(record.request_id, None)
        self._ended.append(record)

    def snapshot(self) -> list[RequestRecord]:
        """Every request in flight, then every request ended since the last snapshot.

        The in-flight set is copied first, so a request ending meanwhile is seen at least
        once (callers deduplicate by ``request_id``).
        """
        active = list(self._active.copy().values())
        ended: list[RequestRecord] = []
        pop = self._ended.popleft
        while True:
            try:
                ended.append(pop())
            except IndexError:
                break
        return active + ended

    def in_flight(self) -> int:
        return len(self._active)


def set_current(record: RequestRecord | None) -> Any:
    """Make ``record`` the current request (for middlewares); returns the reset token."""
    return _CURRENT.set(record)


def reset_current(token: Any) -> None:
    _CURRENT.reset(token)
