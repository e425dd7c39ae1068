"""A tiny ASGI app for benchmarks and tests: a CPU-bound handler that emits "tokens".

``GET /generate?tokens=N&work=K`` burns ``K`` rounds of hashing per token, streams one
chunk per token, and reports ``N`` tokens (header and :func:`report_tokens`). Anything
else is 404. No framework and no model: it needs nothing beyond the standard library.
"""

from __future__ import annotations

import hashlib
import urllib.parse
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from carbonledger.serving.requestlog import report_tokens

__all__ = ["demo_app"]

Message = MutableMapping[str, Any]


def _int(query: dict[str, list[str]], key: str, default: int, high: int) -> int:
    try:
        return max(0, min(high, int(query.get(key, [str(default)])[0])))
    except ValueError:
        return default


async def demo_app(
    scope: MutableMapping[str, Any],
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    if scope["type"] != "http":
        return
    if scope.get("path") != "/generate":
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b"not found"})
        return
    query = urllib.parse.parse_qs(scope.get("query_string", b"").decode("latin-1"))
    tokens = _int(query, "tokens", 16, 100_000)
    work = _int(query, "work", 200, 1_000_000)
    report_tokens(tokens)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"text/plain"),
                (b"x-carbonledger-tokens", str(tokens).encode()),
            ],
        }
    )
    digest = b"seed"
    for _ in range(tokens):
        for _ in range(work):
            digest = hashlib.sha256(digest).digest()
        await send(
            {"type": "http.response.body", "body": digest[:4].hex().encode(), "more_body": True}
        )
    await send({"type": "http.response.body", "body": b"\n", "more_body": False})
