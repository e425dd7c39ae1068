"""One rule for instants: ISO 8601 in, unix seconds inside, UTC with Z out."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carbonledger.timeutil import format_instant, iso_utc, parse_instant, parse_instant_or_none


@pytest.mark.parametrize(
    ("text", "unix"),
    [
        ("1970-01-01T00:00:00Z", 0.0),
        ("1970-01-01T00:00:00", 0.0),  # no offset: UTC
        ("1970-01-01T01:00:00+01:00", 0.0),
        ("2024-03-01T10:00Z", 1709287200.0),
        (" 2024-03-01T10:00:00.5z ", 1709287200.5),
    ],
)
def test_parse(text: str, unix: float) -> None:
    assert parse_instant(text) == unix


@pytest.mark.parametrize("text", ["", "yesterday", "2024-13-01", "10:00"])
def test_unreadable_instants(text: str) -> None:
    with pytest.raises(ValueError):
        parse_instant(text)
    assert parse_instant_or_none(text) is None


@given(st.floats(min_value=-2e9, max_value=4e9, allow_nan=False))
def test_round_trip(unix: float) -> None:
    text = iso_utc(unix)
    assert text is not None and text.endswith("Z")
    assert math.isclose(parse_instant(text), unix, abs_tol=1e-6)


def test_format() -> None:
    assert format_instant(0) == "1970-01-01T00:00:00Z"
    assert format_instant(0.25) == "1970-01-01T00:00:00.250000Z"
    assert format_instant(0.25, seconds=True) == "1970-01-01T00:00:00Z"
    assert "outside the calendar" in format_instant(1e20)
    assert iso_utc(None) is None
