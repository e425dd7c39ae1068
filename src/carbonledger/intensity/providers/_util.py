"""Pure helpers shared by the provider clients: time stamps, range splitting, series building."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable
from datetime import datetime, timezone

from carbonledger.errors import ProviderError
from carbonledger.intensity.series import IntensitySeries

__all__ = [
    "Point",
    "as_intensity",
    "build_series",
    "floor_to",
    "format_utc",
    "parse_latlon",
    "parse_time",
    "require",
    "split_range",
]

# (unix seconds, g/kWh, estimated)
Point = tuple[float, float, bool]

_LATLON = re.compile(r"^\s*(-?\d{1,3}(?:\.\d+)?)\s*,\s*(-?\d{1,3}(?:\.\d+)?)\s*$")


def parse_time(text: object, *, provider: str, field: str) -> float:
    """An ISO 8601 time stamp from an API (``Z`` or an offset; no offset means UTC) → unix s."""
    if not isinstance(text, str) or not text:
        raise ProviderError(f"{provider}: malformed response: field {field!r} is not a time stamp")
    from carbonledger.timeutil import parse_instant

    try:
        return parse_instant(text)
    except (ValueError, OverflowError):
        raise ProviderError(
            f"{provider}: malformed response: field {field!r} has an unreadable time {text[:40]!r}"
        ) from None


def require(obj: object, key: str, *, provider: str, where: str) -> object:
    """``obj[key]`` of a JSON object; a missing field is a :class:`ProviderError` naming it."""
    if not isinstance(obj, dict):
        raise ProviderError(f"{provider}: malformed response from {where}: expected an object")
    if key not in obj:
        raise ProviderError(f"{provider}: malformed response from {where}: missing field {key!r}")
    return obj[key]


def as_intensity(value: object, *, provider: str, field: str) -> float | None:
    """An intensity from JSON: a finite number >= 0, or None where the API gives null."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProviderError(f"{provider}: malformed response: field {field!r} is not a number")
    number = float(value)
    if not (math.isfinite(number) and number >= 0):
        raise ProviderError(
            f"{provider}: malformed response: field {field!r} = {value!r} is invalid"
        )
    return number


def format_utc(unix_s: float, style: str = "seconds") -> str:
    """A unix time as UTC text: ``seconds`` → ``2024-03-01T10:00:00Z``,
    ``minutes`` → ``2024-03-01T10:00Z``, ``offset`` → ``2024-03-01T10:00:00+00:00``."""
    moment = datetime.fromtimestamp(unix_s, tz=timezone.utc).replace(microsecond=0)
    if style == "minutes":
        return moment.strftime("%Y-%m-%dT%H:%MZ")
    if style == "offset":
        return moment.isoformat()
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def floor_to(unix_s: float, step_s: float) -> float:
    """``unix_s`` rounded down to a multiple of ``step_s`` (stable cache keys, aligned windows)."""
    return math.floor(unix_s / step_s) * step_s


def split_range(start: float, end: float, max_span_s: float) -> list[tuple[float, float]]:
    """Consecutive ``[a, b)`` pieces covering ``[start, end)``, none longer than ``max_span_s``."""
    if max_span_s <= 0:
        raise ValueError("max_span_s must be positive")
    pieces: list[tuple[float, float]] = []
    a = start
    while a < end:
        b = min(end, a + max_span_s)
        pieces.append((a, b))
        a = b
    return pieces


def parse_latlon(zone: str) -> tuple[float, float] | None:
    """``"48.85,2.35"`` → (lat, lon); None when ``zone`` is not a coordinate pair."""
    match = _LATLON.match(zone)
    if match is None:
        return None
    lat, lon = float(match.group(1)), float(match.group(2))
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return None
    return lat, lon


def build_series(
    points: Iterable[Point],
    *,
    zone: str,
    signal: str,
    basis: str,
    source: str,
    step_s: float | None,
    uncertainty_rel: float,
    provider: str,
    start: float | None = None,
    end: float | None = None,
) -> IntensitySeries:
    """An :class:`IntensitySeries` from raw points: sorted, de-duplicated (the later piece
    of a split request wins), clipped to the steps overlapping ``[start, end)``."""
    by_time: dict[float, tuple[float, bool]] = {}
    for t, value, estimated in points:
        by_time[t] = (value, estimated)
    times = sorted(by_time)
    step = step_s
    if step is None and len(times) >= 2:
        gaps = sorted(b - a for a, b in itertools.pairwise(times))
        step = gaps[len(gaps) // 2]
    if start is not None or end is not None:
        lo = -math.inf if start is None else start
        hi = math.inf if end is None else end
        span = step if step is not None else 0.0
        times = [t for t in times if t < hi and t + span > lo]
    if not times:
        raise ProviderError(f"{provider}: no intensity data for {zone} in the requested period")
    return IntensitySeries(
        times=tuple(times),
        values_g_per_kwh=tuple(by_time[t][0] for t in times),
        zone=zone,
        signal=signal,
        basis=basis,
        source=source,
        estimated=tuple(by_time[t][1] for t in times),
        last_step_s=step,
        uncertainty_rel=uncertainty_rel,
    )
