"""Per-request energy for ASGI apps (Starlette, FastAPI, any ASGI 3 app): pure ASGI.

    app = EnergyMiddleware(app, log)
    # Starlette / FastAPI: app.add_middleware(EnergyMiddleware, log=log)

Every HTTP request is recorded from its first byte to its last body chunk (a streaming
response ends when it sends ``more_body: False``); a client that disconnects and an app
that raises still end the request (outcome ``disconnect`` / ``error``). The route is
the framework's template when the scope names one (``scope["route"]``, path params),
else the path with ids collapsed. Tokens come from :func:`report_tokens` or the response
header (``x-carbonledger-tokens``). The middleware never raises into the app, and does
no attribution on the request path: :class:`~carbonledger.serving.sink.RequestEnergySink`
does, on the sampler's thread.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from carbonledger.serving.requestlog import RequestLog, reset_current, set_current

__all__ = ["TOKENS_HEADER", "EnergyMiddleware"]

TOKENS_HEADER = "x-carbonledger-tokens"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _tokens(headers: Any, name: bytes) -> int | None:
    try:
        for key, value in headers or ():
            if bytes(key).lower() == name:
                n = int(bytes(value).decode("ascii").strip())
                return n if n >= 0 else None
    except (TypeError, ValueError, UnicodeDecodeError):
        return None
    return None


class EnergyMiddleware:
    """Records each HTTP request's start and end in a :class:`RequestLog`."""

    def __init__(
        self, app: ASGIApp, log: RequestLog | None = None, *, tokens_header: str = TOKENS_HEADER
    ) -> None:
        self.app = app
        self.log = log if log is not None else RequestLog()
        self._header = tokens_header.lower().encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http" or not self.log.enabled:
            await self.app(scope, receive, send)
            return
        log = self.log
        try:
            record = log.begin(str(scope.get("method", "")), str(scope.get("path", "")))
            ctx = set_current(record)
        except Exception:  # never into the app
            await self.app(scope, receive, send)
            return
        header = self._header
        disconnected = False

        async def receive_wrapper() -> Message:
            nonlocal disconnected
            message = await receive()
            if message.get("type") == "http.disconnect":
                disconnected = True
            return message

        async def send_wrapper(message: Message) -> None:
            kind = message.get("type")
            if kind == "http.response.start":
                record.status = message.get("status")
                if record.tokens is None:
                    record.tokens = _tokens(message.get("headers"), header)
            elif kind == "http.response.body" and not message.get("more_body", False):
                try:
                    await send(message)
                except BaseException:
                    log.end(record, "disconnect")
                    raise
                log.end(record, "ok")
                return
            await send(message)

        try:
            await self.app(scope, receive_wrapper, send_wrapper)
        except BaseException:
            log.end(record, "disconnect" if disconnected else "error")
            raise
        finally:
            try:
                _note_route(record, scope)
                reset_current(ctx)
            except Exception:
                pass
            if record.t_end is None:
                log.end(record, "disconnect" if disconnected else "error")


def _note_route(record: Any, scope: Scope) -> None:
    """Keep what the router left in the scope (read off the request path, by the sink)."""
    route = scope.get("route")
    if route is not None:
        record.route = route
    params = scope.get("path_params")
    if params:
        record.params = params
