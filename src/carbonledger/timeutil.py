"""Instants at the edges: ISO 8601 text in, unix seconds inside, ISO 8601 (UTC, ``Z``) out.

Every parser and formatter of instants in carbonledger goes through these functions, so
one rule holds everywhere: a time without ``Z`` or an offset is UTC.
"""

from __future__ import annotations

from datetime import datetime, timezone

__all__ = ["format_instant", "iso_utc", "parse_instant", "parse_instant_or_none"]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def parse_instant(text: str) -> float:
    """Unix seconds of an ISO 8601 time (``Z``, an offset, or none: UTC).

    Raises ValueError when ``text`` is not ISO 8601 (callers say which file or field).
    """
    value = text.strip()
    if value[-1:] in ("Z", "z"):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return (parsed - _EPOCH).total_seconds()


def parse_instant_or_none(text: str | None) -> float | None:
    """:func:`parse_instant`, or None for None, empty or unreadable text."""
    if not text:
        return None
    try:
        return parse_instant(text)
    except (ValueError, OverflowError):
        return None


def iso_utc(unix_s: float | None) -> str | None:
    """``2024-03-01T10:00:00.250000Z`` (None stays None). For JSON and the ledger."""
    if unix_s is None:
        return None
    return datetime.fromtimestamp(unix_s, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def format_instant(unix_s: float, *, seconds: bool = False) -> str:
    """A readable UTC instant with ``Z``; fractions only when there are some (or never,
    with ``seconds=True``). Instants outside the calendar are said so, not raised."""
    try:
        moment = datetime.fromtimestamp(unix_s, tz=timezone.utc)
    except (ValueError, OverflowError, OSError):
        return f"{unix_s:.0f} (unix seconds, outside the calendar)"
    if seconds:
        moment = moment.replace(microsecond=0)
    spec = "seconds" if moment.microsecond == 0 else "microseconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")
