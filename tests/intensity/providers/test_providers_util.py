"""Pure helpers: time stamps, range splitting, coordinates, series building."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carbonledger.errors import ProviderError
from carbonledger.intensity.providers._util import (
    as_intensity,
    build_series,
    floor_to,
    format_utc,
    parse_latlon,
    parse_time,
    require,
    split_range,
)

T = 1_717_243_200.0  # 2024-06-01T12:00:00Z
TIMES = st.integers(0, 4_000_000_000).map(float)


@given(start=TIMES, pieces_wanted=st.floats(0, 200), span=st.floats(1, 1e7))
def test_split_range_covers_exactly(start: float, pieces_wanted: float, span: float) -> None:
    end = start + pieces_wanted * span
    pieces = split_range(start, end, span)
    if end <= start:
        assert pieces == []
        return
    assert pieces[0][0] == start and pieces[-1][1] == end
    for (_, b), (c, _) in itertools.pairwise(pieces):
        assert b == c
    assert all(a < b == min(end, a + span) for a, b in pieces)  # no piece longer than span


def test_split_range_rejects_nonpositive_span() -> None:
    with pytest.raises(ValueError):
        split_range(0, 10, 0)


@pytest.mark.parametrize(
    "text",
    [
        "2024-06-01T12:00Z",
        "2024-06-01T12:00:00Z",
        "2024-06-01T12:00:00.000Z",
        "2024-06-01T12:00:00+00:00",
        "2024-06-01T14:00:00+02:00",
        "2024-06-01T12:00:00",
    ],
)
def test_parse_time_forms(text: str) -> None:
    assert parse_time(text, provider="p", field="f") == T


@pytest.mark.parametrize("bad", ["", "yesterday", None, 5])
def test_parse_time_rejects(bad: object) -> None:
    with pytest.raises(ProviderError, match="p: malformed response: field 'f'"):
        parse_time(bad, provider="p", field="f")


@given(TIMES)
def test_format_round_trips(t: float) -> None:
    for style in ("seconds", "offset"):
        assert parse_time(format_utc(t, style), provider="p", field="f") == t
    assert parse_time(format_utc(t, "minutes"), provider="p", field="f") == floor_to(t, 60)


def test_format_styles() -> None:
    assert format_utc(T) == "2024-06-01T12:00:00Z"
    assert format_utc(T, "minutes") == "2024-06-01T12:00Z"
    assert format_utc(T, "offset") == "2024-06-01T12:00:00+00:00"


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("48.85,2.35", (48.85, 2.35)),
        (" -33.9 , 18.4 ", (-33.9, 18.4)),
        ("DE", None),
        ("91,0", None),
        ("1,2,3", None),
    ],
)
def test_parse_latlon(zone: str, expected: tuple[float, float] | None) -> None:
    assert parse_latlon(zone) == expected


def test_require_and_as_intensity() -> None:
    assert require({"a": 1}, "a", provider="p", where="/w") == 1
    with pytest.raises(ProviderError, match="p: malformed response from /w: missing field 'b'"):
        require({"a": 1}, "b", provider="p", where="/w")
    with pytest.raises(ProviderError, match="expected an object"):
        require([1], "a", provider="p", where="/w")
    assert as_intensity(None, provider="p", field="f") is None
    assert as_intensity(12, provider="p", field="f") == 12.0
    for bad in (True, "12", -1, float("inf")):
        with pytest.raises(ProviderError):
            as_intensity(bad, provider="p", field="f")


def test_build_series_dedupes_sorts_and_clips() -> None:
    points = [
        (T + 3600, 2.0, False),
        (T, 1.0, True),
        (T + 3600, 3.0, False),
        (T + 7200, 4.0, False),
    ]
    series = build_series(
        points,
        zone="Z",
        signal="average",
        basis="direct",
        source="s",
        step_s=None,
        uncertainty_rel=0.1,
        provider="p",
        start=T + 1800,
        end=T + 5000,
    )
    assert series.times == (T, T + 3600)
    assert series.values_g_per_kwh == (1.0, 3.0)  # the later duplicate wins
    assert series.estimated == (True, False)
    assert series.step_s == 3600
    with pytest.raises(ProviderError, match="p: no intensity data for Z"):
        build_series(
            points,
            zone="Z",
            signal="average",
            basis="direct",
            source="s",
            step_s=3600,
            uncertainty_rel=0.1,
            provider="p",
            start=T + 10 * 3600,
        )
