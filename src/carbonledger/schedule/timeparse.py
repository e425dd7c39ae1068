"""Parse and format the times and durations that planning commands take.

Durations: ``6h``, ``90m``, ``3600s``, ``1h30m``, ``1d12h``, ``2.5h``, a bare number of
seconds (``3600``) or ISO 8601 (``PT6H``, ``P1DT2H``). Times: ISO 8601 (``2024-03-01``,
``2024-03-01T10:00``, ``…Z``, ``…+02:00``; a time without an offset is UTC) or ``now``.
Everything comes back in SI: unix seconds and durations in seconds.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone

from carbonledger.errors import ConfigError
from carbonledger.units import S_PER_DAY, S_PER_HOUR, S_PER_MINUTE

__all__ = ["format_duration", "format_time", "parse_duration", "parse_extra", "parse_time"]

_NUMBER = r"(\d+(?:\.\d*)?|\.\d+)"
_COMPACT = re.compile(
    rf"^(?:{_NUMBER}d)?(?:{_NUMBER}h)?(?:{_NUMBER}m(?:in)?)?(?:{_NUMBER}s)?$", re.IGNORECASE
)
_ISO = re.compile(rf"^P(?:{_NUMBER}D)?(?:T(?:{_NUMBER}H)?(?:{_NUMBER}M)?(?:{_NUMBER}S)?)?$")
_UNIT_S = (S_PER_DAY, S_PER_HOUR, S_PER_MINUTE, 1.0)
MAX_DURATION_S = 10 * 366 * S_PER_DAY  # plans and simulations span at most a decade


def parse_duration(text: str, *, what: str = "duration", allow_zero: bool = False) -> float:
    """Seconds in ``text`` (``6h``, ``90m``, ``1h30m``, ``PT6H``, ``3600``).

    Raises :class:`ConfigError` naming ``what`` when the text is not a duration, or is zero
    (unless ``allow_zero``) or negative.
    """
    raw = text.strip()
    seconds: float | None = None
    try:
        seconds = float(raw) if raw and raw[0] not in "+-" else None
    except ValueError:
        seconds = None
    if seconds is None:
        match = _COMPACT.match(raw) or _ISO.match(raw.upper())
        if match is not None and raw and any(g is not None for g in match.groups()):
            seconds = sum(
                float(g) * unit
                for g, unit in zip(match.groups(), _UNIT_S, strict=True)
                if g is not None
            )
    if seconds is None or not math.isfinite(seconds):
        raise ConfigError(
            f"{what}: {text!r} is not a duration (use e.g. 6h, 90m, 3600s, 1h30m or PT6H)"
        )
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise ConfigError(f"{what}: {text!r} must be {'≥' if allow_zero else '>'} 0")
    if seconds > MAX_DURATION_S:
        raise ConfigError(f"{what}: {text!r} is longer than {MAX_DURATION_S / S_PER_DAY:.0f} days")
    return seconds


def parse_extra(text: str, duration_s: float, *, what: str = "extra") -> float:
    """Extra time allowed after the job's duration: a duration (``24h``) or a share of the
    duration (``100%`` is as long again as the job itself). Zero is allowed."""
    raw = text.strip()
    if raw.endswith("%"):
        try:
            pct = float(raw[:-1])
        except ValueError:
            pct = math.nan
        if not math.isfinite(pct) or pct < 0:
            raise ConfigError(f"{what}: {text!r} is not a share ≥ 0% (e.g. 100%)")
        return duration_s * pct / 100.0
    return parse_duration(raw, what=what, allow_zero=True)


def parse_time(text: str, *, now: float | None = None) -> float:
    """Unix seconds of an ISO 8601 time (no offset means UTC), or of ``now``."""
    raw = text.strip()
    if raw.lower() == "now":
        return now if now is not None else datetime.now(timezone.utc).timestamp()
    from carbonledger.timeutil import parse_instant

    try:
        return parse_instant(raw)
    except (ValueError, OverflowError):
        raise ConfigError(
            f"time: {text!r} is not an ISO 8601 time (e.g. 2024-03-01T10:00Z)"
        ) from None


def format_time(at: float) -> str:
    """ISO 8601 in UTC with a ``Z``: ``2024-03-01T10:00:00Z`` (fractions kept if any)."""
    from carbonledger.timeutil import format_instant

    return format_instant(at)


def format_duration(duration_s: float) -> str:
    """A compact duration: ``6h``, ``1h30m``, ``45s``, ``2d3h``."""
    if duration_s == 0:
        return "0s"
    rest = round(duration_s, 3)
    parts: list[str] = []
    for unit, label in ((S_PER_DAY, "d"), (S_PER_HOUR, "h"), (S_PER_MINUTE, "m")):
        count = int(rest // unit)
        if count:
            parts.append(f"{count}{label}")
            rest = round(rest - count * unit, 3)
    if rest:
        parts.append(f"{rest:g}s")
    return "".join(parts)
