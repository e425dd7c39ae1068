"""WattTime v3 client against the local fake server."""

from __future__ import annotations

import base64
import dataclasses
import logging
import math
from pathlib import Path

import pytest
from servers import HOUR, NOW, WattTimeServer, wt_value_lbs

from carbonledger.errors import ConfigError, ProviderError, UnknownZoneError
from carbonledger.intensity.providers import HttpSettings
from carbonledger.intensity.providers.watttime import WattTimeProvider, check_signal_type
from carbonledger.records import Method
from carbonledger.units import lbs_per_mwh_to_g_per_kwh

USER, PASSWORD = WattTimeServer.USERNAME, WattTimeServer.PASSWORD
NOW5 = math.floor(NOW / 300) * 300


def make(server: WattTimeServer, settings: HttpSettings, **kwargs: object) -> WattTimeProvider:
    options: dict[str, object] = {"base_url": server.url, "settings": settings}
    options.update(kwargs)
    username = options.pop("username", USER)
    password = options.pop("password", PASSWORD)
    return WattTimeProvider(username, password, clock=lambda: NOW, **options)  # type: ignore[arg-type]


def test_current_value_is_forecast_horizon_zero(
    wt_server: WattTimeServer, settings: HttpSettings
) -> None:
    value = make(wt_server, settings).intensity("CAISO_NORTH")
    assert value.g_per_kwh == pytest.approx(lbs_per_mwh_to_g_per_kwh(wt_value_lbs(NOW5)))
    assert value.signal == "marginal"
    assert value.basis == "direct"
    assert value.method is Method.MODELED
    assert value.at == NOW5
    assert value.source == "watttime:CAISO_NORTH:co2_moer@2024-06-01T12:00Z"
    login, data = wt_server.requests
    assert login.path == "/login"
    assert login.headers["authorization"].startswith("Basic ")
    assert data.path == "/v3/forecast"
    assert data.query == {"region": "CAISO_NORTH", "signal_type": "co2_moer", "horizon_hours": "0"}
    assert data.headers["authorization"] == "Bearer wt-TOKEN-1-abcdef0123456789"


def test_prefix_and_case_of_region(wt_server: WattTimeServer, settings: HttpSettings) -> None:
    assert make(wt_server, settings).intensity("watttime:caiso_north").zone == "CAISO_NORTH"


def test_token_is_reused_then_renewed_once_on_401(
    wt_server: WattTimeServer, settings: HttpSettings
) -> None:
    settings = dataclasses.replace(settings, cache_enabled=False)
    provider = make(wt_server, settings)
    provider.intensity("CAISO_NORTH")
    provider.intensity("CAISO_NORTH")
    assert wt_server.logins == 1
    wt_server.revoke_tokens()
    value = provider.intensity("CAISO_NORTH")
    assert value.zone == "CAISO_NORTH"
    assert wt_server.logins == 2
    assert provider.logins == 2


def test_persistent_401_after_renewal_gives_up(
    wt_server: WattTimeServer, settings: HttpSettings
) -> None:
    provider = make(wt_server, settings)
    wt_server.push(path="/v3/", status=401, body={"error": "Unauthorized"}, times=2)
    with pytest.raises(ProviderError, match=r"HTTP 401.*CARBONLEDGER_WATTTIME_USERNAME"):
        provider.intensity("CAISO_NORTH")
    assert wt_server.logins == 2  # one renewal, no loop


def test_token_expiry_triggers_login(wt_server: WattTimeServer, settings: HttpSettings) -> None:
    now = [NOW]
    settings = dataclasses.replace(settings, cache_enabled=False)
    provider = WattTimeProvider(
        USER, PASSWORD, base_url=wt_server.url, settings=settings, clock=lambda: now[0]
    )
    provider.intensity("CAISO_NORTH")
    now[0] += 31 * 60
    provider.intensity("CAISO_NORTH")
    assert wt_server.logins == 2


def test_bad_credentials(wt_server: WattTimeServer, settings: HttpSettings) -> None:
    wrong = "not-the-PASSWORD-42"
    with pytest.raises(ProviderError) as info:
        make(wt_server, settings, password=wrong).intensity("CAISO_NORTH")
    message = str(info.value)
    assert "login refused" in message and "CARBONLEDGER_WATTTIME_PASSWORD" in message
    assert wrong not in message


def test_history_is_split_into_32_day_requests_and_joined(
    wt_server: WattTimeServer, settings: HttpSettings
) -> None:
    start = NOW5 - 40 * 24 * HOUR
    end = NOW5 - 24 * HOUR
    series = make(wt_server, settings).history("CAISO_NORTH", start, end)
    calls = [r.query for r in wt_server.requests if r.path == "/v3/historical"]
    assert len(calls) == 2
    assert calls[0]["start"] == "2024-04-22T12:00:00+00:00"
    assert calls[0]["end"] == calls[1]["start"]  # inclusive ends overlap: joined without duplicates
    assert len(series) == 39 * 24 * 12
    assert series.start == start and series.end == end
    assert series.step_s == 300
    assert series.values_g_per_kwh[0] == pytest.approx(
        lbs_per_mwh_to_g_per_kwh(wt_value_lbs(start))
    )
    assert all(series.estimated or ())


def test_past_intensity(wt_server: WattTimeServer, settings: HttpSettings) -> None:
    at = NOW5 - 3 * 24 * HOUR + 700
    value = make(wt_server, settings).intensity("CAISO_NORTH", at=at)
    assert value.at == math.floor(at / 300) * 300
    assert value.g_per_kwh == pytest.approx(lbs_per_mwh_to_g_per_kwh(wt_value_lbs(value.at)))
    assert value.method is Method.MODELED


def test_forecast(wt_server: WattTimeServer, settings: HttpSettings) -> None:
    series = make(wt_server, settings).forecast("CAISO_NORTH", hours=2)
    assert wt_server.requests[-1].query["horizon_hours"] == "2"
    assert series.start == NOW5 and series.end == NOW5 + 2 * HOUR
    assert len(series) == 24
    assert series.signal == "marginal"


def test_region_from_location(wt_server: WattTimeServer, settings: HttpSettings) -> None:
    provider = make(wt_server, settings)
    assert provider.intensity("37.77,-122.42").zone == "CAISO_NORTH"
    call = next(r for r in wt_server.requests if r.path == "/v3/region-from-loc")
    assert call.query == {"latitude": "37.77", "longitude": "-122.42", "signal_type": "co2_moer"}


def test_unknown_and_forbidden_region(wt_server: WattTimeServer, settings: HttpSettings) -> None:
    provider = make(wt_server, settings)
    with pytest.raises(UnknownZoneError, match=r"unknown zone 'NOWHERE'.*WattTime region code"):
        provider.intensity("NOWHERE")
    with pytest.raises(ProviderError, match=r"HTTP 403.*no access"):
        provider.intensity("ERCOT_EASTTX")


def test_percentile_index_is_refused(wt_server: WattTimeServer, settings: HttpSettings) -> None:
    wt_server.units = "percent"
    with pytest.raises(ProviderError, match="percentile index") as info:
        make(wt_server, settings).intensity("CAISO_NORTH")
    assert "g/kWh" in str(info.value)


def test_index_signal_type_is_refused_up_front() -> None:
    for signal in ("co2_moer_index", "signal-index", "percent"):
        with pytest.raises(ProviderError, match="percentile index"):
            check_signal_type(signal)
    with pytest.raises(ProviderError, match="not a carbon intensity"):
        check_signal_type("health_damage")
    assert check_signal_type("co2_aoer") == "average"
    with pytest.raises(ProviderError, match="percentile index"):
        WattTimeProvider(USER, PASSWORD, signal_type="co2_moer_index")


def test_unexpected_units_and_signal_are_refused(
    wt_server: WattTimeServer, settings: HttpSettings
) -> None:
    wt_server.units = "kg_co2_per_kwh"
    with pytest.raises(ProviderError, match="units 'kg_co2_per_kwh'"):
        make(wt_server, settings).intensity("CAISO_NORTH")
    wt_server.units = "lbs_co2_per_mwh"
    wt_server.signal_type_override = "health_damage"
    with pytest.raises(ProviderError, match="returned 'health_damage'"):
        make(wt_server, settings).forecast("CAISO_NORTH", hours=1)


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"data": []}, "missing field 'meta'"),
        ({"meta": {"units": "lbs_co2_per_mwh", "signal_type": "co2_moer"}}, "missing field 'data'"),
        (
            {
                "data": [{"value": 800}],
                "meta": {"units": "lbs_co2_per_mwh", "signal_type": "co2_moer"},
            },
            "missing field 'point_time'",
        ),
        ({"data": [], "meta": {"signal_type": "co2_moer"}}, "missing field 'units'"),
    ],
)
def test_malformed(
    wt_server: WattTimeServer, settings: HttpSettings, body: object, needle: str
) -> None:
    wt_server.push(path="/v3/forecast", status=200, body=body)
    with pytest.raises(ProviderError, match=needle):
        make(wt_server, settings).intensity("CAISO_NORTH")


def test_login_without_token_is_malformed(
    wt_server: WattTimeServer, settings: HttpSettings
) -> None:
    wt_server.push(path="/login", status=200, body={"ok": True})
    with pytest.raises(ProviderError, match="/login: missing field 'token'"):
        make(wt_server, settings).intensity("CAISO_NORTH")


def test_secrets_never_leak(
    wt_server: WattTimeServer,
    settings: HttpSettings,
    cache_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    provider = make(wt_server, settings)
    provider.intensity("CAISO_NORTH")
    provider.history("CAISO_NORTH", NOW5 - 2 * HOUR, NOW5 - HOUR)
    token = "wt-TOKEN-1-abcdef0123456789"
    wt_server.push(
        path="/v3/", status=503, body={"message": f"token {token} pw {PASSWORD}"}, times=3
    )
    with pytest.raises(ProviderError) as info:
        provider.forecast("CAISO_NORTH", hours=3)
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    cached = "".join(p.read_text() for p in cache_dir.rglob("*.json"))
    assert cached
    for secret in (token, PASSWORD, basic):
        assert secret not in str(info.value)
        assert secret not in repr(provider)
        assert secret not in caplog.text
        assert secret not in cached
    assert "***" in str(info.value)


def test_from_environ(wt_server: WattTimeServer) -> None:
    environ = {
        "CARBONLEDGER_WATTTIME_USERNAME": USER,
        "CARBONLEDGER_WATTTIME_PASSWORD": PASSWORD,
        "CARBONLEDGER_WATTTIME_URL": wt_server.url,
        "CARBONLEDGER_PROVIDER_CACHE": "off",
    }
    provider = WattTimeProvider.from_environ(environ)
    assert provider.http.base_url == wt_server.url and provider.http.cache is None
    with pytest.raises(ConfigError, match="CARBONLEDGER_WATTTIME_PASSWORD"):
        WattTimeProvider.from_environ({"CARBONLEDGER_WATTTIME_USERNAME": USER})
