"""Energy per request and per token by route, with percentiles and intervals (pure).

Intervals: the low end is the request's active energy less the sensors' error; the high
end adds the idle bucket spread over the requests in proportion to their energy, plus
the sensors' error. So the interval spans the ambiguity of who pays for idle time as
well as the measurement. When the run amortised idle, the point value includes it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from carbonledger.serving.rows import RequestRow

__all__ = ["RouteSummary", "percentile", "summarise"]


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0..100) by linear interpolation; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    k = (len(ordered) - 1) * q / 100.0
    lo = math.floor(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


@dataclass(frozen=True)
class RouteSummary:
    route: str
    requests: int
    errors: int  # outcome other than ok, or status >= 500
    energy_j: float | None  # total charged (with amortised idle when the run amortised it)
    energy_per_request_j: float | None
    energy_per_request_interval_j: tuple[float, float] | None
    energy_p50_j: float | None
    energy_p90_j: float | None
    energy_p99_j: float | None
    tokens: int | None
    energy_per_token_j: float | None
    energy_per_token_interval_j: tuple[float, float] | None
    latency_p50_s: float | None
    latency_p90_s: float | None
    latency_p99_s: float | None
    carbon_g: float | None
    attribution: str

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        for key in ("energy_per_request_interval_j", "energy_per_token_interval_j"):
            value = out[key]
            out[key] = None if value is None else list(value)
        return out


def _interval(
    value: float, idle_factor: float, rel: float | None, amortised: bool
) -> tuple[float, float]:
    """(active only − error, active + all idle + error) for a value that is active-only
    (``amortised`` False) or already includes idle (True)."""
    r = rel or 0.0
    active = value / idle_factor if amortised else value
    return (active * (1 - r), active * idle_factor * (1 + r))


def summarise(
    rows: Sequence[RequestRow], serving: Mapping[str, Any] | None = None
) -> tuple[list[RouteSummary], RouteSummary | None]:
    """Per-route summaries (by energy, largest first) and the overall one."""
    serving = serving or {}
    idle_j = float(serving.get("idle_energy_j") or 0.0)
    amortised = bool(serving.get("idle_amortised"))
    active_total = math.fsum(r.energy_j for r in rows if r.energy_j is not None)
    idle_factor = 1.0 + (idle_j / active_total if active_total > 0 else 0.0)
    groups: dict[str, list[RequestRow]] = defaultdict(list)
    for r in rows:
        groups[r.route].append(r)
    out = [_one(route, g, idle_factor, amortised) for route, g in groups.items()]
    out.sort(key=lambda s: -(s.energy_j or 0.0))
    overall = _one("ALL", list(rows), idle_factor, amortised) if rows else None
    return out, overall


def _one(route: str, rows: list[RequestRow], idle_factor: float, amortised: bool) -> RouteSummary:
    factor = idle_factor if amortised else 1.0
    energies = [r.energy_j * factor for r in rows if r.energy_j is not None]
    rels = [r.uncertainty_rel for r in rows if r.uncertainty_rel is not None]
    rel = max(rels) if rels else None
    total = math.fsum(energies) if energies else None
    mean = total / len(energies) if total is not None and energies else None
    with_tokens = [r for r in rows if r.tokens is not None and r.energy_j is not None]
    tokens = sum(r.tokens or 0 for r in with_tokens) if with_tokens else None
    per_token = None
    if tokens:
        per_token = math.fsum((r.energy_j or 0.0) * factor for r in with_tokens) / tokens
    latencies = [r.latency_s for r in rows if r.latency_s is not None]
    grams = [r.carbon_g for r in rows]
    carbon = None if not grams or any(g is None for g in grams) else math.fsum(grams)  # type: ignore[arg-type]
    if carbon is not None:
        carbon *= factor
    methods = sorted({r.attribution for r in rows})
    return RouteSummary(
        route=route,
        requests=len(rows),
        errors=sum(
            1 for r in rows if r.outcome != "ok" or (r.status is not None and r.status >= 500)
        ),
        energy_j=total,
        energy_per_request_j=mean,
        energy_per_request_interval_j=(
            None if mean is None else _interval(mean, idle_factor, rel, amortised)
        ),
        energy_p50_j=percentile(energies, 50),
        energy_p90_j=percentile(energies, 90),
        energy_p99_j=percentile(energies, 99),
        tokens=tokens,
        energy_per_token_j=per_token,
        energy_per_token_interval_j=(
            None if per_token is None else _interval(per_token, idle_factor, rel, amortised)
        ),
        latency_p50_s=percentile(latencies, 50),
        latency_p90_s=percentile(latencies, 90),
        latency_p99_s=percentile(latencies, 99),
        carbon_g=carbon,
        attribution="+".join(methods),
    )
