"""Per-request energy for WSGI apps (Flask, Django, any PEP 3333 app).

    app.wsgi_app = EnergyWSGIMiddleware(app.wsgi_app, log)

A request ends when its response iterable is exhausted or closed (the server's
``close()``), so streaming responses end at their last chunk; an app that raises ends it
with outcome ``error``. ``route_of(environ)`` may name the route (e.g. Flask's
``request.url_rule.rule``); else the path with ids collapsed. Tokens come from
:func:`~carbonledger.serving.report_tokens` (inside the app call) or the response
header. Never raises into the app.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from carbonledger.serving.asgi import TOKENS_HEADER
from carbonledger.serving.requestlog import (
    RequestLog,
    RequestRecord,
    reset_current,
    set_current,
)

__all__ = ["EnergyWSGIMiddleware"]

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _Body:
    """The app's response iterable, ending the request when exhausted or closed."""

    def __init__(self, body: Iterable[bytes], log: RequestLog, record: RequestRecord) -> None:
        self._body = body
        self._iter: Iterator[bytes] | None = None
        self._log = log
        self._record = record

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self._iter is None:
            self._iter = iter(self._body)
        try:
            return next(self._iter)
        except StopIteration:
            self._log.end(self._record, "ok")
            raise
        except BaseException:
            self._log.end(self._record, "error")
            raise

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._log.end(self._record, "ok" if self._iter is not None else "disconnect")


class EnergyWSGIMiddleware:
    """Records each request's start and end in a :class:`RequestLog`."""

    def __init__(
        self,
        app: WSGIApp,
        log: RequestLog | None = None,
        *,
        tokens_header: str = TOKENS_HEADER,
        route_of: Callable[[dict[str, Any]], str | None] | None = None,
    ) -> None:
        self.app = app
        self.log = log if log is not None else RequestLog()
        self._header = tokens_header.lower()
        self._route_of = route_of

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if not self.log.enabled:
            return self.app(environ, start_response)
        try:
            record = self.log.begin(
                str(environ.get("REQUEST_METHOD", "")),
                str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", "")),
            )
            ctx = set_current(record)
        except Exception:
            return self.app(environ, start_response)
        header = self._header

        def wrapped_start(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            try:
                record.status = int(str(status)[:3])
                if record.tokens is None:
                    for key, value in headers:
                        if key.lower() == header:
                            n = int(value.strip())
                            record.tokens = n if n >= 0 else None
            except (TypeError, ValueError):
                pass
            return start_response(status, headers, *exc)

        try:
            body = self.app(environ, wrapped_start)
        except BaseException:
            self.log.end(record, "error")
            raise
        finally:
            try:
                if self._route_of is not None:
                    record.route = self._route_of(environ)
                reset_current(ctx)
            except Exception:
                pass
        return _Body(body, self.log, record)
