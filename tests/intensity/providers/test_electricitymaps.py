"""Electricity Maps v3 client against the local fake server."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pytest
from servers import HOUR, NOW, ElectricityMapsServer, em_estimated, em_value

from carbonledger.errors import ConfigError, ProviderError, UnknownZoneError
from carbonledger.intensity.providers import HttpSettings, ProviderZoneError
from carbonledger.intensity.providers.electricitymaps import ElectricityMapsProvider
from carbonledger.records import Method

TOKEN = ElectricityMapsServer.TOKEN
HOUR_NOW = math.floor(NOW / HOUR) * HOUR


def make(
    server: ElectricityMapsServer, settings: HttpSettings, **kwargs: object
) -> ElectricityMapsProvider:
    options: dict[str, object] = {
        "token": TOKEN,
        "base_url": server.url + "/v3",
        "settings": settings,
    }
    options.update(kwargs)
    return ElectricityMapsProvider(clock=lambda: NOW, **options)  # type: ignore[arg-type]


def all_cache_text(cache_dir: Path) -> str:
    if not cache_dir.exists():
        return ""
    return "".join(p.read_text() for p in cache_dir.rglob("*") if p.is_file())


def test_latest_value_with_provenance(
    em_server: ElectricityMapsServer, settings: HttpSettings
) -> None:
    value = make(em_server, settings).intensity("DE")
    assert value.g_per_kwh == em_value(HOUR_NOW)
    assert value.zone == "DE"
    assert value.signal == "average"
    assert value.basis == "lifecycle"
    assert value.at == HOUR_NOW
    assert value.source == "electricitymaps:DE@2024-06-01T12:00Z"
    expected = Method.MODELED if em_estimated(HOUR_NOW) else Method.MEASURED
    assert value.method is expected
    request = em_server.requests[-1]
    assert request.path == "/v3/carbon-intensity/latest"
    assert request.query == {"zone": "DE", "emissionFactorType": "lifecycle"}
    assert request.headers["auth-token"] == TOKEN


def test_estimated_hour_is_modeled_and_measured_hour_is_measured(
    em_server: ElectricityMapsServer, settings: HttpSettings
) -> None:
    provider = make(em_server, settings)
    series = provider.history("DE", HOUR_NOW - 20 * HOUR, HOUR_NOW - 10 * HOUR)
    for t in series.times:
        value = provider.intensity("DE", at=t + 60)
        assert value.method is (Method.MODELED if em_estimated(t) else Method.MEASURED)
        assert value.uncertainty_rel == (0.2 if em_estimated(t) else 0.1)
    assert any(series.estimated or ()) and not all(series.estimated or ())


def test_direct_basis_is_requested_and_reported(
    em_server: ElectricityMapsServer, settings: HttpSettings
) -> None:
    value = make(em_server, settings, basis="direct").intensity("FR")
    assert value.basis == "direct"
    assert value.g_per_kwh == pytest.approx(em_value(HOUR_NOW, "direct"))
    assert em_server.requests[-1].query["emissionFactorType"] == "direct"


def test_lat_lon_zone(em_server: ElectricityMapsServer, settings: HttpSettings) -> None:
    value = make(em_server, settings).intensity("48.85,2.35")
    assert value.zone == "FR"
    assert em_server.requests[-1].query == {
        "lat": "48.85",
        "lon": "2.35",
        "emissionFactorType": "lifecycle",
    }


def test_recent_history_uses_history_endpoint(
    em_server: ElectricityMapsServer, settings: HttpSettings
) -> None:
    series = make(em_server, settings).history("DE", HOUR_NOW - 6 * HOUR, HOUR_NOW)
    assert em_server.count("/v3/carbon-intensity/history") == 1
    assert series.times == tuple(HOUR_NOW - i * HOUR for i in range(6, 0, -1))
    assert series.values_g_per_kwh == tuple(em_value(t) for t in series.times)
    assert series.step_s == HOUR


def test_long_history_is_split_into_ten_day_requests(
    em_server: ElectricityMapsServer, settings: HttpSettings
) -> None:
    start = HOUR_NOW - 30 * 24 * HOUR
    end = HOUR_NOW - 2 * 24 * HOUR
    series = make(em_server, settings).history("DE", start, end)
    ranges = [r.query for r in em_server.requests if r.path.endswith("past-range")]
    assert len(ranges) == 3  # 28 days in pieces of at most 10
    assert ranges[0]["start"] == "2024-05-02T12:00:00Z"
    assert ranges[-1]["end"] == "2024-05-30T12:00:00Z"
    assert len(series) == 28 * 24
    assert series.start == start and series.end == end
    assert all(b - a == HOUR for a, b in zip(series.times, series.times[1:], strict=False))


def test_past_intensity_uses_aligned_window(
    em_server: ElectricityMapsServer, settings: HttpSettings
) -> None:
    at = HOUR_NOW - 5 * 24 * HOUR + 1234
    value = make(em_server, settings).intensity("DE", at=at)
    assert value.at == math.floor(at / HOUR) * HOUR
    assert value.g_per_kwh == em_value(value.at)
    query = em_server.requests[-1].query
    assert (query["start"], query["end"]) == ("2024-05-27T12:00:00Z", "2024-05-27T13:00:00Z")


def test_time_close_to_now_is_the_latest_value(
    em_server: ElectricityMapsServer, settings: HttpSettings
) -> None:
    make(em_server, settings).intensity("DE", at=NOW - 30)
    assert em_server.requests[-1].path == "/v3/carbon-intensity/latest"


def test_forecast(em_server: ElectricityMapsServer, settings: HttpSettings) -> None:
    provider = make(em_server, settings)
    series = provider.forecast("DE", hours=10)
    assert em_server.requests[-1].query["horizonHours"] == "24"
    assert series.start == HOUR_NOW and series.end == HOUR_NOW + 10 * HOUR
    assert all(series.estimated or ())
    assert series.source == "electricitymaps:DE forecast"
    future = provider.intensity("DE", at=NOW + 3 * HOUR)
    assert future.method is Method.MODELED
    assert future.g_per_kwh == em_value(HOUR_NOW + 3 * HOUR)
    longest = provider.forecast("DE", hours=100)  # capped at the 72 h horizon
    assert em_server.requests[-1].query["horizonHours"] == "72"
    assert longest.end == HOUR_NOW + 72 * HOUR
    for bad in (0, -1, float("nan")):
        with pytest.raises(ProviderError, match="positive number of hours"):
            provider.forecast("DE", hours=bad)


def test_cache_hit_avoids_second_request(
    em_server: ElectricityMapsServer, settings: HttpSettings
) -> None:
    first = make(em_server, settings).intensity("DE")
    second = make(em_server, settings).intensity("DE")  # a new client, same cache folder
    assert first == second
    assert em_server.count("/v3/carbon-intensity/latest") == 1


def test_one_tokens_answer_is_not_served_to_another(
    em_server: ElectricityMapsServer, settings: HttpSettings, cache_dir: Path
) -> None:
    make(em_server, settings).intensity("DE")  # cached under the good token
    wrong = "em-OTHER-token-424242"
    with pytest.raises(ProviderError, match="HTTP 401"):
        make(em_server, settings, token=wrong).intensity("DE")  # asks, is refused
    assert em_server.count("/v3/carbon-intensity/latest") == 2
    text = all_cache_text(cache_dir) + "".join(p.name for p in cache_dir.rglob("*"))
    assert TOKEN not in text and wrong not in text


def test_bad_token(
    em_server: ElectricityMapsServer, settings: HttpSettings, cache_dir: Path
) -> None:
    wrong = "em-WRONG-token-999999"
    with pytest.raises(ProviderError) as info:
        make(em_server, settings, token=wrong).intensity("DE")
    message = str(info.value)
    assert "HTTP 401" in message and "check CARBONLEDGER_ELECTRICITYMAPS_TOKEN" in message
    assert wrong not in message and "\n" not in message


def test_forbidden_zone(em_server: ElectricityMapsServer, settings: HttpSettings) -> None:
    with pytest.raises(ProviderError, match=r"HTTP 403.*no access to this zone"):
        make(em_server, settings).intensity("US-CAL-CISO")


def test_unknown_zone(em_server: ElectricityMapsServer, settings: HttpSettings) -> None:
    with pytest.raises(ProviderZoneError) as info:
        make(em_server, settings).intensity("XX")
    assert isinstance(info.value, UnknownZoneError) and isinstance(info.value, ProviderError)
    assert info.value.zone == "XX"
    assert "unknown zone 'XX'" in str(info.value) and "does not exist" in str(info.value)


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"<html>oops</html>", "not JSON"),
        ({"zone": "DE", "datetime": "2024-06-01T12:00:00Z"}, "missing field 'carbonIntensity'"),
        ({"zone": "DE", "carbonIntensity": 300}, "missing field 'datetime'"),
        (
            {"zone": "DE", "carbonIntensity": "lots", "datetime": "x"},
            "'carbonIntensity' is not a number",
        ),
        ({"zone": "DE", "carbonIntensity": 300, "datetime": "yesterday"}, "unreadable time"),
    ],
)
def test_malformed_responses(
    em_server: ElectricityMapsServer, settings: HttpSettings, body: object, needle: str
) -> None:
    em_server.push(status=200, body=body)
    with pytest.raises(ProviderError, match=needle) as info:
        make(em_server, settings).intensity("DE")
    assert str(info.value).startswith("electricitymaps: ")


def test_wrong_basis_in_response_is_refused(
    em_server: ElectricityMapsServer, settings: HttpSettings
) -> None:
    em_server.push(
        status=200,
        body={
            "zone": "DE",
            "carbonIntensity": 300,
            "datetime": "2024-06-01T12:00:00.000Z",
            "emissionFactorType": "direct",
            "isEstimated": False,
        },
    )
    with pytest.raises(ProviderError, match="asked for lifecycle"):
        make(em_server, settings).intensity("DE")


def test_missing_estimate_flag_is_not_labelled_measured(
    em_server: ElectricityMapsServer, settings: HttpSettings
) -> None:
    em_server.push(
        status=200, body={"zone": "DE", "carbonIntensity": 300, "datetime": "2024-06-01T12:00Z"}
    )
    assert make(em_server, settings).intensity("DE").method is Method.MODELED


def test_null_value_is_no_value(em_server: ElectricityMapsServer, settings: HttpSettings) -> None:
    em_server.push(
        status=200,
        body={
            "zone": "DE",
            "carbonIntensity": None,
            "datetime": "2024-06-01T12:00Z",
            "isEstimated": False,
        },
    )
    with pytest.raises(ProviderError, match="gave null"):
        make(em_server, settings).intensity("DE")


def test_secret_never_leaks(
    em_server: ElectricityMapsServer,
    settings: HttpSettings,
    cache_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    provider = make(em_server, settings)
    provider.intensity("DE")
    provider.history("DE", HOUR_NOW - 15 * 24 * HOUR, HOUR_NOW - 14 * 24 * HOUR)
    # a server that echoes the token back in its error
    em_server.push(status=500, body={"message": f"bad header auth-token={TOKEN}"}, times=3)
    with pytest.raises(ProviderError) as info:
        provider.forecast("DE")
    assert "***" in str(info.value)
    assert TOKEN not in str(info.value) and TOKEN not in repr(info.value)
    assert TOKEN not in repr(provider) and TOKEN not in repr(provider.http)
    assert TOKEN not in caplog.text
    assert all_cache_text(cache_dir) and TOKEN not in all_cache_text(cache_dir)


def test_from_environ(em_server: ElectricityMapsServer, tmp_path: Path) -> None:
    environ = {
        "CARBONLEDGER_ELECTRICITYMAPS_TOKEN": TOKEN,
        "CARBONLEDGER_ELECTRICITYMAPS_URL": em_server.url + "/v3",
        "CARBONLEDGER_ELECTRICITYMAPS_BASIS": "direct",
        "XDG_CACHE_HOME": str(tmp_path),
    }
    provider = ElectricityMapsProvider.from_environ(environ)
    assert provider.basis == "direct" and provider.http.base_url == em_server.url + "/v3"
    assert provider.http.settings.cache_dir == tmp_path / "carbonledger" / "providers"
    with pytest.raises(ConfigError, match="CARBONLEDGER_ELECTRICITYMAPS_TOKEN"):
        ElectricityMapsProvider.from_environ({})
    with pytest.raises(ConfigError, match="lifecycle or direct"):
        ElectricityMapsProvider.from_environ({**environ, "CARBONLEDGER_ELECTRICITYMAPS_BASIS": "x"})
