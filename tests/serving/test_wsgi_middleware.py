"""The WSGI middleware: a request ends when its body is exhausted or closed."""

from __future__ import annotations

from typing import Any

import pytest

from carbonledger.serving import EnergyWSGIMiddleware, RequestLog, report_tokens


def _environ(path: str = "/users/7") -> dict[str, Any]:
    return {"REQUEST_METHOD": "POST", "PATH_INFO": path, "SCRIPT_NAME": ""}


def test_streaming_body_ends_when_consumed() -> None:
    def app(environ: Any, start_response: Any) -> Any:
        report_tokens(4)
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"a"
        yield b"b"

    log = RequestLog()
    wrapped = EnergyWSGIMiddleware(app, log)
    body = wrapped(_environ(), lambda status, headers, *exc: None)
    assert log.in_flight() == 1
    assert b"".join(body) == b"ab"
    body.close()
    (rec,) = log.snapshot()
    assert rec.outcome == "ok" and rec.status == 200 and rec.http_method == "POST"


def test_header_tokens_and_error() -> None:
    def app(environ: Any, start_response: Any) -> Any:
        start_response("503 Busy", [("X-CarbonLedger-Tokens", "12")])
        return [b"no"]

    log = RequestLog()
    body = EnergyWSGIMiddleware(app, log)(_environ(), lambda *a: None)
    list(body)
    (rec,) = log.snapshot()
    assert rec.tokens == 12 and rec.status == 503

    def bad(environ: Any, start_response: Any) -> Any:
        raise ValueError("broken")

    with pytest.raises(ValueError):
        EnergyWSGIMiddleware(bad, log)(_environ(), lambda *a: None)
    (rec,) = log.snapshot()
    assert rec.outcome == "error"


def test_closed_before_reading_is_a_disconnect() -> None:
    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", [])
        return [b"x"]

    log = RequestLog()
    EnergyWSGIMiddleware(app, log)(_environ(), lambda *a: None).close()
    (rec,) = log.snapshot()
    assert rec.outcome == "disconnect"
