"""Every live client behind the same failures: 429 with Retry-After, 500s, timeouts, cache."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import pytest
from servers import NOW, ElectricityMapsServer, FakeAPI, UKGridServer, WattTimeServer

from carbonledger.errors import ProviderError
from carbonledger.intensity.providers import HttpSettings
from carbonledger.intensity.providers._base import LiveProvider
from carbonledger.intensity.providers.electricitymaps import ElectricityMapsProvider
from carbonledger.intensity.providers.ukgrid import UKGridProvider
from carbonledger.intensity.providers.watttime import WattTimeProvider

Case = tuple[FakeAPI, Callable[[HttpSettings], LiveProvider], str, str]


def _em(server: FakeAPI) -> Callable[[HttpSettings], LiveProvider]:
    return lambda s: ElectricityMapsProvider(
        ElectricityMapsServer.TOKEN, base_url=server.url + "/v3", settings=s, clock=lambda: NOW
    )


def _wt(server: FakeAPI) -> Callable[[HttpSettings], LiveProvider]:
    return lambda s: WattTimeProvider(
        WattTimeServer.USERNAME,
        WattTimeServer.PASSWORD,
        base_url=server.url,
        settings=s,
        clock=lambda: NOW,
    )


def _uk(server: FakeAPI) -> Callable[[HttpSettings], LiveProvider]:
    return lambda s: UKGridProvider(base_url=server.url, settings=s, clock=lambda: NOW)


@pytest.fixture(params=["electricitymaps", "watttime", "ukgrid"])
def case(request: pytest.FixtureRequest) -> Iterator[Case]:
    """(server, provider factory, zone, path prefix of its data requests)."""
    name = request.param
    server: FakeAPI
    if name == "electricitymaps":
        server = ElectricityMapsServer()
        factory, zone, prefix = _em(server), "DE", "/v3/carbon"
    elif name == "watttime":
        server = WattTimeServer()
        factory, zone, prefix = _wt(server), "CAISO_NORTH", "/v3/"
    else:
        server = UKGridServer()
        factory, zone, prefix = _uk(server), "GB", "/intensity"
    server.start()
    yield server, factory, zone, prefix
    server.stop()


def test_429_with_retry_after_then_success(
    case: Case, settings: HttpSettings, sleeps: list[float]
) -> None:
    server, factory, zone, prefix = case
    server.push(path=prefix, status=429, headers={"Retry-After": "1"}, body={"message": "slow"})
    value = factory(settings).intensity(zone)
    assert value.g_per_kwh > 0
    assert sleeps == [1.0]
    assert server.count(prefix) == 2


def test_500s_exhaust_retries(case: Case, settings: HttpSettings, sleeps: list[float]) -> None:
    server, factory, zone, prefix = case
    server.push(path=prefix, status=502, body={"message": "bad gateway"}, times=99)
    with pytest.raises(ProviderError, match=r"server error \(HTTP 502\).*gave up after 3 attempts"):
        factory(settings).intensity(zone)
    assert server.count(prefix) == 3 and len(sleeps) == 2


def test_timeout(case: Case, settings: HttpSettings) -> None:
    server, factory, zone, prefix = case
    fast = dataclasses.replace(settings, read_timeout_s=0.1, max_retries=0)
    server.push(path=prefix, delay_s=0.6)
    with pytest.raises(ProviderError, match=r"timed out waiting for .* after 0\.1 s"):
        factory(fast).intensity(zone)


def test_cache_serves_repeats(case: Case, settings: HttpSettings) -> None:
    server, factory, zone, prefix = case
    first = factory(settings).intensity(zone)
    assert factory(settings).intensity(zone) == first
    assert server.count(prefix) == 1


def test_errors_are_single_lines_naming_the_provider(case: Case, settings: HttpSettings) -> None:
    server, factory, zone, prefix = case
    provider = factory(settings)
    server.push(path=prefix, status=200, body=b"\x00\x01 not json")
    with pytest.raises(ProviderError) as info:
        provider.intensity(zone)
    message = str(info.value)
    assert message.startswith(provider.name + ": ") and "\n" not in message


def test_a_malformed_answer_is_never_cached(case: Case, settings: HttpSettings) -> None:
    server, factory, zone, prefix = case
    server.push(path=prefix, status=200, body={"unexpected": True})
    with pytest.raises(ProviderError, match="malformed"):
        factory(settings).intensity(zone)
    assert factory(settings).intensity(zone).g_per_kwh > 0  # asked again, not replayed
    assert server.count(prefix) == 2
