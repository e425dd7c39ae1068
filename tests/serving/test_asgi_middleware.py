"""The ASGI middleware with plain ASGI apps (no framework): ends, outcomes, tokens."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from carbonledger.serving import EnergyMiddleware, RequestLog, report_tokens
from carbonledger.serving.requestlog import RequestRecord


def _run(
    app: Any, log: RequestLog, *, path: str = "/items/42", disconnect: bool = False
) -> list[Any]:
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        if disconnect:
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "headers": []}
    asyncio.run(EnergyMiddleware(app, log)(scope, receive, send))
    return sent


def _one(log: RequestLog) -> RequestRecord:
    records = log.snapshot()
    assert len(records) == 1
    return records[0]


async def streaming_app(scope: Any, receive: Any, send: Any) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"x-carbonledger-tokens", b"7")],
        }
    )
    for _ in range(3):
        await send({"type": "http.response.body", "body": b"x", "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def test_streaming_response_ends_at_last_chunk_with_header_tokens() -> None:
    log = RequestLog()
    sent = _run(streaming_app, log)
    assert len(sent) == 5  # nothing swallowed
    rec = _one(log)
    assert rec.outcome == "ok" and rec.status == 200 and rec.tokens == 7
    assert rec.t_end is not None and rec.t_end >= rec.t_start
    assert log.in_flight() == 0


def test_context_variable_tokens() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        report_tokens(5)
        report_tokens(3)
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    log = RequestLog()
    _run(app, log)
    assert _one(log).tokens == 8
    assert report_tokens(1) is False  # outside a request: nothing


def test_app_error_ends_request_and_propagates() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    log = RequestLog()
    with pytest.raises(RuntimeError, match="boom"):
        _run(app, log)
    assert _one(log).outcome == "error"


def test_client_disconnect_counts() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        assert message["type"] == "http.disconnect"

    log = RequestLog()
    _run(app, log, disconnect=True)
    assert _one(log).outcome == "disconnect"


def test_send_failure_is_a_disconnect() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"x"})

    async def failing_send(message: Any) -> None:
        if message["type"] == "http.response.body":
            raise OSError("client went away")

    async def receive() -> Any:
        return {"type": "http.request"}

    log = RequestLog()
    scope = {"type": "http", "method": "GET", "path": "/", "headers": []}
    with pytest.raises(OSError):
        asyncio.run(EnergyMiddleware(app, log)(scope, receive, failing_send))
    assert _one(log).outcome == "disconnect"


def test_lifespan_and_websocket_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    log = RequestLog()

    async def nothing() -> Any:
        return {}

    async def ignore(message: Any) -> None:
        return None

    asyncio.run(EnergyMiddleware(app, log)({"type": "lifespan"}, nothing, ignore))
    assert seen == ["lifespan"] and log.snapshot() == []


def test_route_from_scope_is_kept() -> None:
    class Route:
        path = "/items/{item_id}"

    async def app(scope: Any, receive: Any, send: Any) -> None:
        scope["route"] = Route()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    log = RequestLog()
    _run(app, log)
    from carbonledger.serving.routes import route_name

    rec = _one(log)
    assert route_name(rec.path, rec.route, rec.params) == "/items/{item_id}"
