"""Durations and times for the planning commands."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carbonledger.errors import ConfigError
from carbonledger.schedule.timeparse import (
    format_duration,
    format_time,
    parse_duration,
    parse_extra,
    parse_time,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("6h", 21600),
        ("90m", 5400),
        ("90min", 5400),
        ("3600s", 3600),
        ("1h30m", 5400),
        ("1d12h", 129600),
        ("2.5h", 9000),
        ("3600", 3600),
        ("PT6H", 21600),
        ("P1DT30M", 88200),
        (" 6H ", 21600),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "6x", "h", "-1h", "0", "0h", "1h-30m", "abc", "P", "PT"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ConfigError, match="duration"):
        parse_duration(text, what="--duration")


def test_zero_allowed_when_asked() -> None:
    assert parse_duration("0s", allow_zero=True) == 0


def test_parse_extra() -> None:
    assert parse_extra("24h", 6 * 3600) == 86400
    assert parse_extra("100%", 6 * 3600) == 21600
    assert parse_extra("50%", 7200) == 3600
    assert parse_extra("0%", 7200) == 0
    for bad in ("x%", "-5%", "5x"):
        with pytest.raises(ConfigError):
            parse_extra(bad, 3600)


def test_parse_time() -> None:
    t = datetime(2024, 3, 1, 10, 0, tzinfo=timezone.utc).timestamp()
    assert parse_time("2024-03-01T10:00Z") == t
    assert parse_time("2024-03-01T10:00:00+00:00") == t
    assert parse_time("2024-03-01 10:00") == t  # no offset: UTC
    assert parse_time("2024-03-01T12:00+02:00") == t
    assert parse_time("2024-03-01") == t - 10 * 3600
    assert parse_time("now", now=123.0) == 123.0
    with pytest.raises(ConfigError, match="ISO 8601"):
        parse_time("yesterday")


def test_format() -> None:
    assert format_time(0) == "1970-01-01T00:00:00Z"
    assert format_time(0.5) == "1970-01-01T00:00:00.500000Z"
    assert format_duration(5400) == "1h30m"
    assert format_duration(90061) == "1d1h1m1s"
    assert format_duration(0) == "0s"


@given(st.integers(0, 4_000_000_000))
def test_time_round_trip(t: int) -> None:
    assert parse_time(format_time(t)) == t


@given(st.integers(0, 30), st.integers(0, 23), st.integers(0, 59), st.integers(0, 59))
def test_duration_round_trip(d: int, h: int, m: int, s: int) -> None:
    total = d * 86400 + h * 3600 + m * 60 + s
    if total:
        assert parse_duration(format_duration(total)) == total
