"""The common HTTP client: retries and back-off, timeouts, error mapping, cache, secrets."""

from __future__ import annotations

import dataclasses
import logging
import pickle
import socket
import subprocess
import sys
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from servers import NOW, EchoServer

from carbonledger.errors import ConfigError, ProviderError
from carbonledger.intensity.providers import HttpSettings, ProviderHTTPError, Secret
from carbonledger.intensity.providers._http import ErrorHints, HttpClient, redact

HINTS = ErrorHints(
    auth="check CARBONLEDGER_TEST_TOKEN",
    forbidden="check your plan",
    unknown_zone="use a known zone",
    url_env="CARBONLEDGER_TEST_URL",
)
SECRET = Secret("tok-SECRET-abc123")


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    server.start()
    yield server
    server.stop()


def client(server: EchoServer, settings: HttpSettings, **kwargs: object) -> HttpClient:
    return HttpClient("test", server.url, settings, secrets=[SECRET], clock=lambda: NOW, **kwargs)  # type: ignore[arg-type]


def test_success_returns_json(echo: EchoServer, settings: HttpSettings) -> None:
    payload = client(echo, settings).get_json("/a/b", params={"x": "1"}, hints=HINTS)
    assert payload == {"path": "/a/b", "query": {"x": "1"}}
    assert echo.requests[0].headers["user-agent"].startswith("carbonledger/")


def test_429_with_retry_after_then_success(
    echo: EchoServer, settings: HttpSettings, sleeps: list[float]
) -> None:
    echo.push(status=429, headers={"Retry-After": "2"}, body={"message": "slow down"})
    assert client(echo, settings).get_json("/x", hints=HINTS)["path"] == "/x"
    assert echo.count() == 2
    assert sleeps == [2.0]  # honoured exactly


def test_retry_after_as_http_date(
    echo: EchoServer, settings: HttpSettings, sleeps: list[float]
) -> None:
    echo.push(status=503, headers={"Retry-After": formatdate(NOW + 5, usegmt=True)})
    client(echo, settings).get_json("/x", hints=HINTS)
    assert sleeps == [5.0]


def test_retry_after_too_long_gives_up_at_once(echo: EchoServer, settings: HttpSettings) -> None:
    echo.push(status=429, headers={"Retry-After": "3600"})
    with pytest.raises(ProviderHTTPError, match=r"rate limited \(HTTP 429\).*wait 3600 s") as info:
        client(echo, settings).get_json("/x", hints=HINTS)
    assert info.value.status == 429 and echo.count() == 1


def test_500s_exhaust_the_retries(
    echo: EchoServer, settings: HttpSettings, sleeps: list[float]
) -> None:
    echo.push(status=500, body={"message": "boom"}, times=10)
    with pytest.raises(ProviderHTTPError) as info:
        client(echo, settings).get_json("/x", hints=HINTS)
    message = str(info.value)
    assert message.startswith("test: server error (HTTP 500) on /x: boom")
    assert "gave up after 3 attempts" in message and "\n" not in message
    assert echo.count() == 3
    assert sleeps == [0.0075, 0.015]  # exponential from 0.01 s with (fixed) jitter


def test_connection_refused_is_retried_then_reported(
    settings: HttpSettings, sleeps: list[float]
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    http = HttpClient("test", f"http://127.0.0.1:{port}", settings)
    with pytest.raises(
        ProviderError, match=r"cannot reach http://127\.0\.0\.1.*CARBONLEDGER_TEST_URL"
    ):
        http.get_json("/x", hints=HINTS)
    assert http.requests_sent == 3 and len(sleeps) == 2


@pytest.mark.parametrize("url", ["htp://host", "not a url", "http://[::1"])
def test_invalid_base_url_is_not_retried(url: str, settings: HttpSettings) -> None:
    http = HttpClient("test", url, settings)
    with pytest.raises(ProviderError, match=r"invalid URL.*CARBONLEDGER_TEST_URL"):
        http.get_json("/x", hints=HINTS)
    assert http.requests_sent == 1


def test_timeout(echo: EchoServer, settings: HttpSettings) -> None:
    fast = dataclasses.replace(settings, read_timeout_s=0.1, max_retries=0)
    echo.push(delay_s=1.0)
    with pytest.raises(ProviderError, match=r"timed out waiting for /slow after 0\.1 s.*TIMEOUT"):
        client(echo, fast).get_json("/slow", hints=HINTS)


def test_timeout_is_retried(echo: EchoServer, settings: HttpSettings) -> None:
    fast = dataclasses.replace(settings, read_timeout_s=0.1, max_retries=1)
    echo.push(delay_s=1.0)
    assert client(echo, fast).get_json("/slow", hints=HINTS)["path"] == "/slow"
    assert echo.count() == 2


@pytest.mark.parametrize(
    ("status", "needle"),
    [
        (401, r"refused the credentials \(HTTP 401\): check CARBONLEDGER_TEST_TOKEN"),
        (403, r"access denied to /x \(HTTP 403: nope\); check your plan"),
        (418, r"rejected the request to /x \(HTTP 418: nope\)"),
        (302, "unexpected redirect"),
    ],
)
def test_status_errors(echo: EchoServer, settings: HttpSettings, status: int, needle: str) -> None:
    echo.push(
        status=status, body={"message": "nope"}, headers={"Location": "http://example.invalid/"}
    )
    with pytest.raises(ProviderHTTPError, match=needle) as info:
        client(echo, settings).get_json("/x", hints=HINTS)
    assert info.value.status == status and echo.count() == 1


def test_error_detail_from_text_and_nested_json(echo: EchoServer, settings: HttpSettings) -> None:
    echo.push(status=418, body=b"plain\ntext   body")
    with pytest.raises(ProviderError, match="HTTP 418: plain text body"):
        client(echo, settings).get_json("/x", hints=HINTS)
    echo.push(status=418, body={"error": {"code": "418", "message": "nested words"}})
    with pytest.raises(ProviderError, match="HTTP 418: nested words"):
        client(echo, settings).get_json("/x", hints=HINTS)


def test_404_with_zone_is_a_zone_error(echo: EchoServer, settings: HttpSettings) -> None:
    echo.push(status=404, body={"message": "gone"})
    with pytest.raises(
        ProviderError, match=r"unknown zone 'ZZ' \(HTTP 404: gone\); use a known zone"
    ):
        client(echo, settings).get_json("/x", hints=HINTS, zone="ZZ")


def test_malformed_json(echo: EchoServer, settings: HttpSettings) -> None:
    echo.push(status=200, body=b"{not json")
    with pytest.raises(ProviderError, match="malformed response from /x: not JSON"):
        client(echo, settings).get_json("/x", hints=HINTS)


def test_secret_in_headers_and_server_echo_is_redacted(
    echo: EchoServer, settings: HttpSettings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    echo.push(status=500, body={"message": f"you sent {SECRET.reveal()}"}, times=3)
    http = client(echo, settings)
    with pytest.raises(ProviderError) as info:
        http.get_json("/x", headers={"auth-token": SECRET}, hints=HINTS)
    assert echo.requests[0].headers["auth-token"] == SECRET.reveal()  # sent, but never shown
    assert "you sent ***" in str(info.value)
    assert SECRET.reveal() not in str(info.value) + repr(info.value) + caplog.text + repr(http)
    assert "retrying" in caplog.text


def test_cache_hit_avoids_a_second_request(
    echo: EchoServer, settings: HttpSettings, cache_dir: Path
) -> None:
    now = [NOW]
    http = HttpClient("test", echo.url, settings, secrets=[SECRET], clock=lambda: now[0])
    first = http.get_json(
        "/x", params={"a": "1"}, headers={"auth-token": SECRET}, cache_ttl_s=60, hints=HINTS
    )
    again = http.get_json(
        "/x", params={"a": "1"}, headers={"auth-token": SECRET}, cache_ttl_s=60, hints=HINTS
    )
    assert first == again and echo.count() == 1
    http.get_json("/x", params={"a": "2"}, cache_ttl_s=60, hints=HINTS)  # other params: other entry
    assert echo.count() == 2
    now[0] += 61  # stale
    http.get_json("/x", params={"a": "1"}, cache_ttl_s=60, hints=HINTS)
    assert echo.count() == 3
    http.get_json("/x", params={"a": "1"}, hints=HINTS)  # no TTL: never cached
    assert echo.count() == 4
    files = list(cache_dir.rglob("*.json"))
    assert len(files) == 2 and all(SECRET.reveal() not in f.read_text() for f in files)


def test_response_containing_a_secret_is_not_cached(
    echo: EchoServer, settings: HttpSettings, cache_dir: Path
) -> None:
    echo.push(status=200, body={"token": SECRET.reveal()}, times=2)
    http = client(echo, settings)
    http.get_json("/login", cache_ttl_s=60, hints=HINTS)
    http.get_json("/login", cache_ttl_s=60, hints=HINTS)
    assert echo.count() == 2 and not list(cache_dir.rglob("*.json"))


def test_cache_can_be_disabled(echo: EchoServer, settings: HttpSettings, cache_dir: Path) -> None:
    http = client(echo, dataclasses.replace(settings, cache_enabled=False))
    for _ in range(2):
        http.get_json("/x", cache_ttl_s=60, hints=HINTS)
    assert echo.count() == 2 and not cache_dir.exists()


@given(
    attempt=st.integers(0, 12),
    base=st.floats(0, 10),
    cap=st.floats(0, 60),
    jitter=st.floats(0, 1, exclude_max=True),
)
def test_backoff_is_bounded_and_jittered(
    attempt: int, base: float, cap: float, jitter: float
) -> None:
    settings = HttpSettings(backoff_base_s=base, backoff_max_s=cap, rng=lambda: jitter)
    delay = settings.backoff_s(attempt)
    ceiling = min(cap, base * 2**attempt)
    assert ceiling / 2 <= delay <= ceiling + 1e-9


def test_settings_from_environ(tmp_path: Path) -> None:
    settings = HttpSettings.from_environ(
        {
            "CARBONLEDGER_PROVIDER_TIMEOUT": "3.5",
            "CARBONLEDGER_PROVIDER_CONNECT_TIMEOUT": "1",
            "CARBONLEDGER_PROVIDER_RETRIES": "0",
            "CARBONLEDGER_PROVIDER_CACHE": "off",
            "CARBONLEDGER_PROVIDER_CACHE_DIR": str(tmp_path / "c"),
        }
    )
    assert (settings.read_timeout_s, settings.connect_timeout_s, settings.max_retries) == (
        3.5,
        1.0,
        0,
    )
    assert settings.cache_enabled is False and settings.cache_dir == tmp_path / "c"
    default = HttpSettings.from_environ({"XDG_CACHE_HOME": str(tmp_path)})
    assert default.cache_dir == tmp_path / "carbonledger" / "providers"
    for name, value in (
        ("TIMEOUT", "soon"),
        ("RETRIES", "99"),
        ("CACHE", "maybe"),
        ("TIMEOUT", "-1"),
    ):
        with pytest.raises(ConfigError):
            HttpSettings.from_environ({f"CARBONLEDGER_PROVIDER_{name}": value})


def test_secret_hides_its_value() -> None:
    secret = Secret("hunter2-XYZ")
    assert repr(secret) == str(secret) == "***" and f"{secret}" == "***"
    assert secret == Secret("hunter2-XYZ") and secret.reveal() == "hunter2-XYZ"
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    assert redact("a hunter2-XYZ b", ["hunter2-XYZ", ""]) == "a *** b"


def test_missing_httpx_is_a_config_error(
    echo: EchoServer, settings: HttpSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "httpx", None)
    with pytest.raises(ConfigError, match=r"pip install 'carbonledger\[providers\]'"):
        client(echo, settings).get_json("/x", hints=HINTS)


def test_importing_never_imports_httpx() -> None:
    code = (
        "import sys, carbonledger, carbonledger.intensity.providers as p;"
        "p.open_provider('ukgrid', {});"
        "import carbonledger.intensity.providers.electricitymaps;"
        "import carbonledger.intensity.providers.watttime;"
        "assert 'httpx' not in sys.modules, 'httpx imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)


def test_parse_failure_is_not_cached(echo: EchoServer, settings: HttpSettings) -> None:
    http = client(echo, settings)

    def refuse(payload: object) -> object:
        raise ProviderError("test: malformed")

    with pytest.raises(ProviderError, match="malformed"):
        http.get("/x", refuse, cache_ttl_s=60, hints=HINTS)
    assert http.get("/x", lambda p: p["path"], cache_ttl_s=60, hints=HINTS) == "/x"
    assert http.get("/x", lambda p: p["path"], cache_ttl_s=60, hints=HINTS) == "/x"
    assert echo.count() == 2


def test_credentials_in_a_base_url_are_not_shown(settings: HttpSettings) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    http = HttpClient("test", f"http://me:pa55word@127.0.0.1:{port}/v3", settings)
    with pytest.raises(ProviderError) as info:
        http.get_json("/x", hints=HINTS)
    assert "pa55word" not in str(info.value) + repr(http)
    assert f"http://127.0.0.1:{port}/v3" in str(info.value)


@pytest.mark.parametrize("body", [b"[" * 100_000, b"[" * 100_000 + b"]" * 100_000])
def test_deeply_nested_json_is_malformed_not_a_traceback(
    echo: EchoServer, settings: HttpSettings, body: bytes
) -> None:
    echo.push(status=200, body=body)
    with pytest.raises(ProviderError, match="malformed response from /x: not JSON"):
        client(echo, settings).get_json("/x", hints=HINTS)


def test_deeply_nested_error_body_still_reports_the_status(
    echo: EchoServer, settings: HttpSettings
) -> None:
    echo.push(status=400, body=b'{"message":' * 100_000)
    with pytest.raises(ProviderError, match="400"):
        client(echo, settings).get_json("/x", hints=HINTS)


def test_a_short_secret_is_masked_as_a_whole_token_only() -> None:
    message = "status 401 for token t at https://api.test/v3?auth=t"
    assert redact(message, ["t"]) == "status 401 for token *** at https://api.test/v3?auth=***"
    long_secret = "s3cr3t-t0ken-value"
    assert redact(f"x{long_secret}y", [long_secret]) == "x***y"  # long ones anywhere


def test_the_stray_exceptions_live_in_the_one_error_module() -> None:
    from carbonledger import errors
    from carbonledger.intensity import providers
    from carbonledger.lifecycle import hardware

    assert providers.ProviderHTTPError is errors.ProviderHTTPError
    assert providers.ProviderZoneError is errors.ProviderZoneError
    assert hardware.UnknownHardware is errors.UnknownHardware
    assert issubclass(errors.ProviderZoneError, errors.UnknownZoneError)
    assert issubclass(errors.UnknownHardware, errors.DataError)
