"""GB Carbon Intensity API client against the local fake server."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from servers import HOUR, NOW, UKGridServer, uk_actual, uk_value

from carbonledger.errors import ProviderError, UnknownZoneError
from carbonledger.intensity.providers import HttpSettings
from carbonledger.intensity.providers.ukgrid import REGIONS, UKGridProvider, parse_zone
from carbonledger.records import Method

HALF = 1800.0
CURRENT = math.floor(NOW / HALF) * HALF


def make(server: UKGridServer, settings: HttpSettings) -> UKGridProvider:
    return UKGridProvider(base_url=server.url, settings=settings, clock=lambda: NOW)


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("GB", None),
        ("uk", None),
        ("ukgrid:GB", None),
        ("GB-13", 13),
        ("13", 13),
        ("London", 13),
        ("GB-London", 13),
        ("north-scotland", 1),
        ("North Wales & Merseyside", 6),
        ("South Yorkshire", 5),
        ("GB-SCT", 16),
        ("wales", 17),
    ],
)
def test_zones(zone: str, expected: int | None) -> None:
    assert parse_zone(zone) == expected


@given(st.sampled_from(sorted(REGIONS)))
def test_every_region_name_and_id_round_trips(region: int) -> None:
    assert parse_zone(REGIONS[region]) == region
    assert parse_zone(f"GB-{region}") == region


def test_unknown_zone_suggests() -> None:
    with pytest.raises(UnknownZoneError) as info:
        parse_zone("Londn")
    assert "London" in info.value.suggestions
    assert isinstance(info.value, ProviderError)
    for bad in ("GB-18", "GB-0", "FR"):
        with pytest.raises(UnknownZoneError, match="GB-<regionid>"):
            parse_zone(bad)


def test_national_latest_uses_actual(uk_server: UKGridServer, settings: HttpSettings) -> None:
    uk_server.push(
        status=200,
        body={
            "data": [
                {
                    "from": "2024-06-01T11:30Z",
                    "to": "2024-06-01T12:00Z",
                    "intensity": {"forecast": 190, "actual": 185, "index": "moderate"},
                }
            ]
        },
    )
    value = make(uk_server, settings).intensity("GB")
    assert value.g_per_kwh == 185 and value.method is Method.MEASURED
    assert (value.zone, value.signal, value.basis) == ("GB", "average", "direct")
    assert value.source == "ukgrid:GB@2024-06-01T11:30Z"
    assert uk_server.requests[-1].path == "/intensity"


def test_national_latest_falls_back_to_forecast(
    uk_server: UKGridServer, settings: HttpSettings
) -> None:
    value = make(uk_server, settings).intensity("GB")  # the current half hour has no actual yet
    assert value.g_per_kwh == uk_value(CURRENT)
    assert value.method is Method.MODELED
    assert value.uncertainty_rel == 0.2


def test_regional_latest(uk_server: UKGridServer, settings: HttpSettings) -> None:
    value = make(uk_server, settings).intensity("London")
    assert uk_server.requests[-1].path == "/regional/regionid/13"
    assert value.zone == "GB-13"
    assert value.g_per_kwh == uk_value(CURRENT, 13)
    assert value.method is Method.MODELED  # regional data is forecast only


def test_national_history_mixes_actual_and_forecast(
    uk_server: UKGridServer, settings: HttpSettings
) -> None:
    start, end = CURRENT - 6 * HOUR, CURRENT - 3 * HOUR
    series = make(uk_server, settings).history("GB", start, end)
    assert uk_server.requests[-1].path == "/intensity/2024-06-01T06:00Z/2024-06-01T09:00Z"
    assert series.start == start and series.end == end and series.step_s == HALF
    assert len(series) == 6
    for t, value, estimated in zip(
        series.times, series.values_g_per_kwh, series.estimated or (), strict=True
    ):
        actual = uk_actual(t, NOW)
        assert value == (actual if actual is not None else uk_value(t))
        assert estimated is (actual is None)
    assert any(series.estimated or ()) and not all(series.estimated or ())


def test_long_history_is_split(uk_server: UKGridServer, settings: HttpSettings) -> None:
    start = CURRENT - 30 * 24 * HOUR
    series = make(uk_server, settings).history("GB-13", start, CURRENT - 24 * HOUR)
    paths = [r.path for r in uk_server.requests]
    assert len(paths) == 3 and all(p.startswith("/regional/intensity/") for p in paths)
    assert paths[0] == "/regional/intensity/2024-05-02T12:00Z/2024-05-16T12:00Z/regionid/13"
    assert len(series) == 29 * 48
    assert series.values_g_per_kwh[0] == uk_value(start, 13)


def test_past_intensity(uk_server: UKGridServer, settings: HttpSettings) -> None:
    at = CURRENT - 2 * 24 * HOUR + 100
    value = make(uk_server, settings).intensity("GB", at=at)
    assert value.at == math.floor(at / HALF) * HALF
    actual = uk_actual(value.at, NOW)
    assert value.g_per_kwh == (actual if actual is not None else uk_value(value.at))


@pytest.mark.parametrize("zone", ["GB", "GB-1"])
def test_forecast(uk_server: UKGridServer, settings: HttpSettings, zone: str) -> None:
    provider = make(uk_server, settings)
    series = provider.forecast(zone, hours=6)
    path = uk_server.requests[-1].path
    assert path.startswith(
        ("/intensity/2024-06-01T12:00Z/fw48h", "/regional/intensity/2024-06-01T12:00Z/fw48h")
    )
    assert series.start == CURRENT and series.end == CURRENT + 6 * HOUR
    assert all(series.estimated or ())
    assert series.source.endswith(" forecast")
    assert provider.forecast(zone, hours=72).end == CURRENT + 48 * HOUR  # the API's reach


def test_future_intensity_from_forecast(uk_server: UKGridServer, settings: HttpSettings) -> None:
    value = make(uk_server, settings).intensity("GB", at=NOW + 5 * HOUR)
    assert value.g_per_kwh == uk_value(CURRENT + 5 * HOUR)
    assert value.method is Method.MODELED
    with pytest.raises(ProviderError, match="beyond the 48 h"):
        make(uk_server, settings).intensity("GB", at=NOW + 60 * HOUR)


def test_bad_region_from_server(uk_server: UKGridServer, settings: HttpSettings) -> None:
    uk_server.push(
        status=400,
        body={"error": {"code": "400 Bad Request", "message": "Please enter a valid region ID"}},
    )
    with pytest.raises(UnknownZoneError, match="valid region ID"):
        make(uk_server, settings).intensity("GB-5")


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (
            {"data": [{"from": "2024-06-01T12:00Z", "to": "2024-06-01T12:30Z"}]},
            "missing field 'intensity'",
        ),
        ({"data": [{"to": "x", "intensity": {"forecast": 1}}]}, "missing field 'from'"),
        (
            {"data": [{"from": "2024-06-01T12:00Z", "intensity": {"actual": 5}}]},
            "missing field 'forecast'",
        ),
        ({"data": [{"from": "2024-06-01T12:00Z", "intensity": {"forecast": -4}}]}, "is invalid"),
        ({"nodata": []}, "missing field 'data'"),
        ({"data": []}, "no current intensity"),
    ],
)
def test_malformed(
    uk_server: UKGridServer, settings: HttpSettings, body: object, needle: str
) -> None:
    uk_server.push(status=200, body=body)
    with pytest.raises(ProviderError, match=needle):
        make(uk_server, settings).intensity("GB")


def test_cache(uk_server: UKGridServer, settings: HttpSettings) -> None:
    provider = make(uk_server, settings)
    a = provider.history("GB", CURRENT - 10 * 24 * HOUR, CURRENT - 9 * 24 * HOUR)
    b = provider.history("GB", CURRENT - 10 * 24 * HOUR, CURRENT - 9 * 24 * HOUR)
    assert a == b and uk_server.count() == 1
