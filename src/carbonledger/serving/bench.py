"""A closed-loop load generator and ML.ENERGY's steady-state window (pure but for HTTP).

:func:`drive` sends ``requests`` GETs to a URL from ``concurrency`` workers, each with
its own keep-alive connection, and records each request's client-side start and end,
status and tokens (the ``x-carbonledger-tokens`` header). :func:`steady_window` is the
window ML.ENERGY measures (ml-energy/benchmark, ``benchmark.py``): it begins when the
target concurrency is reached and ends when ``N − B − 1`` requests have completed,
before the drain. :func:`window_energy` pro-rates samples over any window, so the
steady-state and whole-run figures come from the same samples.
"""

from __future__ import annotations

import http.client
import math
import threading
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass

from carbonledger.records import Sample

__all__ = ["ClientRequest", "LoadResult", "drive", "steady_window", "window_energy"]


@dataclass(frozen=True)
class ClientRequest:
    t_start: float
    t_end: float
    status: int | None
    tokens: int | None


@dataclass(frozen=True)
class LoadResult:
    concurrency: int
    requests: tuple[ClientRequest, ...]
    t_start: float
    t_end: float
    target_reached_at: float | None  # when ``concurrency`` requests were in flight

    @property
    def errors(self) -> int:
        return sum(1 for r in self.requests if r.status is None or r.status >= 500)


def drive(url: str, *, requests: int, concurrency: int, timeout_s: float = 30.0) -> LoadResult:
    """Send ``requests`` GETs to ``url`` from ``concurrency`` workers (closed loop)."""
    parts = urllib.parse.urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lock = threading.Lock()
    remaining = [requests]
    in_flight = [0]
    reached: list[float] = []
    done: list[ClientRequest] = []

    def take() -> bool:
        with lock:
            if remaining[0] <= 0:
                return False
            remaining[0] -= 1
            return True

    def worker() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
        try:
            while take():
                t0 = time.time()
                with lock:
                    in_flight[0] += 1
                    if in_flight[0] >= concurrency and not reached:
                        reached.append(t0)
                status: int | None = None
                tokens: int | None = None
                try:
                    conn.request("GET", target)
                    resp = conn.getresponse()
                    resp.read()
                    status = resp.status
                    header = resp.getheader("x-carbonledger-tokens")
                    tokens = int(header) if header and header.strip().isdigit() else None
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
                t1 = time.time()
                with lock:
                    in_flight[0] -= 1
                    done.append(ClientRequest(t0, t1, status, tokens))
        finally:
            conn.close()

    started = time.time()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return LoadResult(
        concurrency,
        tuple(sorted(done, key=lambda r: r.t_start)),
        started,
        time.time(),
        reached[0] if reached else None,
    )


def steady_window(result: LoadResult) -> tuple[float, float] | None:
    """ML.ENERGY's steady state: from reaching the target concurrency to the completion
    of request ``N − B − 1`` (by completion order); None when the run is too short."""
    n, b = len(result.requests), result.concurrency
    if result.target_reached_at is None or n - b - 1 < 1:
        return None
    ends = sorted(r.t_end for r in result.requests)
    t1 = ends[n - b - 2]
    t0 = result.target_reached_at
    return (t0, t1) if t1 > t0 else None


def window_energy(samples: Sequence[Sample], t0: float, t1: float) -> float | None:
    """Energy of ``samples`` inside [t0, t1], pro-rated by overlap (even power inside a
    sample); None when no sample with energy overlaps."""
    total: list[float] = []
    for s in samples:
        if s.energy_j is None or s.t_end <= s.t_start:
            continue
        overlap = min(t1, s.t_end) - max(t0, s.t_start)
        if overlap > 0:
            total.append(s.energy_j * overlap / (s.t_end - s.t_start))
    return math.fsum(total) if total else None
