"""What the serving middlewares cost per request, against the bare app in the same run.

    .venv/bin/python benchmarks/middleware_overhead.py [--requests 20000] [--rounds 7]

Calls a trivial ASGI app (one start, one body message) and a trivial WSGI app directly,
with and without the middleware, in alternating rounds so both see the same machine
state; reports the median over rounds of (wrapped − bare) per request. No server and no
sockets: this isolates the middleware's own cost (the target is under 50 µs). A sink
draining the log between rounds stands in for the sampler (attribution is off the
request path, so it is not timed here).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

from carbonledger.serving import EnergyMiddleware, EnergyWSGIMiddleware, RequestLog

TARGET_US = 50.0


async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def wsgi_app(environ: Any, start_response: Any) -> Any:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def _time_asgi(app: Any, n: int) -> float:
    scope = {"type": "http", "method": "GET", "path": "/items/42", "headers": []}

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        return None

    async def loop() -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            await app(dict(scope), receive, send)
        return time.perf_counter() - t0

    return asyncio.run(loop()) / n


def _time_wsgi(app: Any, n: int) -> float:
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/items/42", "SCRIPT_NAME": ""}

    def start_response(status: str, headers: Any, *exc: Any) -> None:
        return None

    t0 = time.perf_counter()
    for _ in range(n):
        body = app(dict(environ), start_response)
        for _chunk in body:
            pass
        close = getattr(body, "close", None)
        if close is not None:
            close()
    return (time.perf_counter() - t0) / n


def measure(requests: int, rounds: int) -> dict[str, Any]:
    log = RequestLog()
    wrapped_asgi = EnergyMiddleware(asgi_app, log)
    wrapped_wsgi = EnergyWSGIMiddleware(wsgi_app, log)
    out: dict[str, Any] = {}
    for name, timer, bare, wrapped in (
        ("asgi", _time_asgi, asgi_app, wrapped_asgi),
        ("wsgi", _time_wsgi, wsgi_app, wrapped_wsgi),
    ):
        timer(bare, 200)  # warm up
        timer(wrapped, 200)
        log.snapshot()
        deltas, bare_us, wrapped_us = [], [], []
        for _ in range(rounds):
            b = timer(bare, requests)
            w = timer(wrapped, requests)
            log.snapshot()  # the sink's drain, between rounds
            bare_us.append(b * 1e6)
            wrapped_us.append(w * 1e6)
            deltas.append((w - b) * 1e6)
        out[name] = {
            "bare_us": statistics.median(bare_us),
            "wrapped_us": statistics.median(wrapped_us),
            "overhead_us": statistics.median(deltas),
            "overhead_range_us": [min(deltas), max(deltas)],
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    result = measure(args.requests, args.rounds)
    print("| middleware | bare app | with middleware | overhead (median [min, max]) | target |")
    print("|---|---|---|---|---|")
    for name, r in result.items():
        lo, hi = r["overhead_range_us"]
        verdict = "met" if r["overhead_us"] < TARGET_US else "**missed**"
        print(
            f"| {name} | {r['bare_us']:.1f} µs | {r['wrapped_us']:.1f} µs | "
            f"{r['overhead_us']:.1f} µs [{lo:.1f}, {hi:.1f}] | < {TARGET_US:.0f} µs: {verdict} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
