"""Serving benchmark: energy per request and per token at several concurrencies.

    .venv/bin/pip install 'carbonledger[serving]'
    .venv/bin/python benchmarks/bench_serve.py --concurrency 1 8 32 --requests 200 \
        [--url http://127.0.0.1:8000/generate] [--ledger bench.db] [--json out.json]

Without ``--url`` it starts the demo app (``carbonledger.serving.demo``: a CPU-bound
handler that streams "tokens", no model) under uvicorn with the middleware, in this
process. For each concurrency it tracks one run (sensors as ``carbonledger run`` would
find them: RAPL, NVML, models), drives ``--requests`` requests (closed loop), and reports:

- whole run: the run's energy (idle and ramp included, the BLOOM deployment study's
  point) over requests and over tokens;
- steady state (ML.ENERGY): the energy inside the window that begins when the target
  concurrency is reached and ends when N − B − 1 requests have completed, over the
  requests completed and tokens produced in it;
- the middleware's per-request attribution (``time-share``), idle bucket apart.

With ``--url`` it drives an external server and reports the whole-run and steady-state
figures from this host's sensors (that server must run on this host).
"""

from __future__ import annotations

import argparse
import json
import math
import socket
import threading
import time
from typing import Any


def _serve_demo(log: Any) -> tuple[Any, int]:
    import uvicorn

    from carbonledger.serving import EnergyMiddleware
    from carbonledger.serving.demo import demo_app

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(EnergyMiddleware(demo_app, log), log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    return server, port


def bench(
    concurrency: int, requests: int, url: str | None, ledger: str | None, query: str
) -> dict[str, Any]:
    import carbonledger as cl
    from carbonledger.serving import RequestEnergySink, RequestLog
    from carbonledger.serving.bench import drive, steady_window, window_energy

    log = RequestLog()
    server = None
    if url is None:
        server, port = _serve_demo(log)
        target = f"http://127.0.0.1:{port}/generate?{query}"
    else:
        target = url
    sink = RequestEnergySink(log)
    samples: list[Any] = []

    class Keep:
        def on_samples(self, run_id: str, batch: Any) -> None:
            samples.extend(batch)

    try:
        with cl.track(
            f"bench-serve-c{concurrency}",
            phase="inference",
            interval=0.1,
            scope="machine",
            ledger=ledger,
            sinks=[sink, Keep()],
        ) as run:
            result = drive(target, requests=requests, concurrency=concurrency)
        fp = run.footprint()
    finally:
        if server is not None:
            server.should_exit = True
    energy_j = fp.energy_j if fp is not None else None
    tokens = sum(r.tokens or 0 for r in result.requests)
    out: dict[str, Any] = {
        "concurrency": concurrency,
        "requests": len(result.requests),
        "errors": result.errors,
        "run_id": run.run_id,
        "whole_run": {
            "duration_s": result.t_end - result.t_start,
            "energy_j": energy_j,
            "energy_per_request_j": None if energy_j is None else energy_j / requests,
            "energy_per_token_j": None if energy_j is None or not tokens else energy_j / tokens,
        },
        "steady_state": None,
        "attribution": None,
    }
    window = steady_window(result)
    if window is not None:
        t0, t1 = window
        e = window_energy(samples, t0, t1)
        done = [r for r in result.requests if t0 <= r.t_end <= t1]
        tok = sum(r.tokens or 0 for r in done)
        out["steady_state"] = {
            "window_s": t1 - t0,
            "energy_j": e,
            "requests_completed": len(done),
            "energy_per_request_j": None if e is None or not done else e / len(done),
            "energy_per_token_j": None if e is None or not tok else e / tok,
        }
    if sink.rows:
        per = [r.energy_j for r in sink.rows if r.energy_j is not None]
        out["attribution"] = {
            "method": "time-share",
            "mean_request_j": math.fsum(per) / len(per) if per else None,
            "idle_energy_j": sink.totals.idle_energy_j,
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--url", help="an external server on this host (default: the demo)")
    parser.add_argument("--query", default="tokens=16&work=200", help="demo app query")
    parser.add_argument("--ledger", help="ledger for the runs (default: the configured one)")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    results = [bench(c, args.requests, args.url, args.ledger, args.query) for c in args.concurrency]
    print(
        "| concurrency | J/request (whole run) | J/token (whole) | J/request (steady) | "
        "J/token (steady) | steady window |"
    )
    print("|---|---|---|---|---|---|")

    def f(v: Any) -> str:
        return "—" if v is None else f"{v:.4g}"

    for r in results:
        w, s = r["whole_run"], r["steady_state"] or {}
        print(
            f"| {r['concurrency']} | {f(w['energy_per_request_j'])} | "
            f"{f(w['energy_per_token_j'])} | {f(s.get('energy_per_request_j'))} | "
            f"{f(s.get('energy_per_token_j'))} | {f(s.get('window_s'))} s |"
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
