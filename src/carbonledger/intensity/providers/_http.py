"""The one HTTP boundary of the live providers: timeouts, retries, cache, error mapping.

Every httpx exception and every HTTP error status is turned into a
:class:`~carbonledger.errors.ProviderError` here, once, with one line that says what went
wrong and what to do. Credentials are held in :class:`Secret` (whose repr is ``***``) and
every message, log line and cache entry is scrubbed of them.

httpx is imported on first request, so importing this module stays cheap.
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from carbonledger.errors import ConfigError, ProviderError, UnknownZoneError
from carbonledger.intensity.providers._cache import ResponseCache, default_cache_dir
from carbonledger.redact import mask_secrets

if TYPE_CHECKING:  # pragma: no cover
    import httpx

__all__ = [
    "ErrorHints",
    "HttpClient",
    "HttpSettings",
    "ProviderHTTPError",
    "ProviderZoneError",
    "Secret",
    "redact",
]

log = logging.getLogger("carbonledger.intensity.providers")

T = TypeVar("T")

REDACTED = "***"
_ENV = "CARBONLEDGER_PROVIDER_"


class Secret:
    """A credential: ``repr``/``str`` show ``***``; :meth:`reveal` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return REDACTED

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> Any:  # never pickled with its value
        raise TypeError("a Secret cannot be pickled")


def redact(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every non-empty secret replaced by ``***`` (a short secret only where it
    stands as a whole token, so it cannot garble the message)."""
    return mask_secrets(text, secrets)


class ProviderHTTPError(ProviderError):
    """An HTTP error status from a provider (the message is already one line, redacted)."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class ProviderZoneError(UnknownZoneError, ProviderError):
    """A provider does not know the zone or region; both an UnknownZoneError and a ProviderError."""

    def __init__(self, zone: str, message: str, suggestions: Sequence[str] = ()) -> None:
        super().__init__(zone, list(suggestions))
        self.args = (message,)
        self.status: int | None = None

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class ErrorHints:
    """What to tell the user for each kind of failure of one provider's requests."""

    auth: str  # 401: e.g. "check CARBONLEDGER_ELECTRICITYMAPS_TOKEN"
    forbidden: str  # 403
    unknown_zone: str  # 404, or 400 naming the zone/region
    url_env: str  # the variable that overrides the base URL


@dataclass(frozen=True)
class HttpSettings:
    """Timeouts, retries and cache of the provider clients.

    ``backoff_base_s`` × 2^attempt (with jitter, capped at ``backoff_max_s``) is the wait
    between attempts unless the server sends ``Retry-After``; a ``Retry-After`` longer than
    ``max_retry_after_s`` ends the attempts at once. ``sleep`` and ``rng`` are seams for tests.
    """

    connect_timeout_s: float = 5.0
    read_timeout_s: float = 15.0
    max_retries: int = 3
    backoff_base_s: float = 0.5
    backoff_max_s: float = 20.0
    max_retry_after_s: float = 60.0
    cache_dir: Path | None = None
    cache_enabled: bool = True
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    rng: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("connect_timeout_s", "read_timeout_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"provider {name} must be positive, got {value}")
        if not (0 <= self.max_retries <= 10):
            raise ConfigError(f"provider max_retries must be 0..10, got {self.max_retries}")
        for name in ("backoff_base_s", "backoff_max_s", "max_retry_after_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ConfigError(f"provider {name} must be >= 0, got {value}")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> HttpSettings:
        """Settings from ``CARBONLEDGER_PROVIDER_*``: ``CONNECT_TIMEOUT``, ``TIMEOUT`` (read,
        seconds), ``RETRIES``, ``CACHE`` (on/off) and ``CACHE_DIR``."""
        kwargs: dict[str, Any] = {}
        for suffix, name, kind in (
            ("CONNECT_TIMEOUT", "connect_timeout_s", float),
            ("TIMEOUT", "read_timeout_s", float),
            ("RETRIES", "max_retries", int),
        ):
            raw = environ.get(_ENV + suffix, "").strip()
            if raw:
                try:
                    kwargs[name] = kind(raw)
                except ValueError:
                    raise ConfigError(f"{_ENV}{suffix}: invalid value {raw!r}") from None
        cache = environ.get(_ENV + "CACHE", "").strip().lower()
        if cache:
            if cache in ("0", "false", "no", "off"):
                kwargs["cache_enabled"] = False
            elif cache not in ("1", "true", "yes", "on"):
                raise ConfigError(f"{_ENV}CACHE: invalid value {cache!r} (use on or off)")
        cache_dir = environ.get(_ENV + "CACHE_DIR", "").strip()
        kwargs["cache_dir"] = (
            Path(cache_dir).expanduser() if cache_dir else default_cache_dir(environ)
        )
        return cls(**kwargs)

    def backoff_s(self, attempt: int) -> float:
        """Wait before retry number ``attempt`` (0-based): exponential, capped, half jittered."""
        ceiling = min(self.backoff_max_s, self.backoff_base_s * (2.0**attempt))
        return ceiling / 2 + self.rng() * ceiling / 2


def _import_httpx() -> Any:
    try:
        import httpx
    except ImportError:
        raise ConfigError(
            "live intensity providers need httpx: pip install 'carbonledger[providers]'"
        ) from None
    return httpx


_SSL_CONTEXT: Any = None
_SSL_LOCK = threading.Lock()


def _ssl_context(httpx: Any) -> Any:
    """One TLS context for every client of the process (building one takes ~0.1 s)."""
    global _SSL_CONTEXT
    with _SSL_LOCK:
        if _SSL_CONTEXT is None:
            _SSL_CONTEXT = httpx.create_ssl_context()  # certifi bundle; honours SSL_CERT_FILE
        return _SSL_CONTEXT


def _without_userinfo(url: str) -> str:
    """``url`` without any ``user:password@`` part."""
    if "@" not in url:
        return url
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:  # unparseable: drop everything up to the last @ of the authority
        return re.sub(r"//[^/]*@", "//", url)
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1]))


def _userinfo_secrets(url: str) -> list[Secret]:
    """The password of a ``user:password@`` URL, and its Basic-auth form, as secrets."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return []
    if not parts.password:
        return []
    import base64

    pair = f"{urllib.parse.unquote(parts.username or '')}:{urllib.parse.unquote(parts.password)}"
    basic = base64.b64encode(pair.encode()).decode()
    return [Secret(urllib.parse.unquote(parts.password)), Secret(parts.password), Secret(basic)]


def _as_is(payload: Any) -> Any:
    return payload


def _one_line(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _error_detail(response: httpx.Response) -> str:
    """The server's own words about an error: a JSON message if there is one, else the text."""
    try:
        body = response.json()
    except (ValueError, RecursionError):
        body = None
    if isinstance(body, dict):
        for key in ("message", "error", "detail", "msg"):
            value = body.get(key)
            if isinstance(value, dict):
                value = value.get("message") or value.get("code")
            if isinstance(value, list) and value and isinstance(value[0], dict):
                value = value[0].get("msg")
            if isinstance(value, str) and value.strip():
                return _one_line(value)
    try:
        text = response.text
    except Exception:  # undecodable body
        text = ""
    return _one_line(text) if text.strip() else (response.reason_phrase or "no details")


def _retry_after_s(response: httpx.Response, now: float) -> float | None:
    raw = response.headers.get("Retry-After")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - now)


class HttpClient:
    """GET JSON from one provider's API with timeouts, bounded retries and a response cache.

    ``secrets`` (and any added with :meth:`add_secret`) never appear in what this client
    raises, logs or caches.
    """

    def __init__(
        self,
        provider: str,
        base_url: str,
        settings: HttpSettings,
        *,
        secrets: Sequence[Secret] = (),
        cache: ResponseCache | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.shown_url = _without_userinfo(self.base_url)  # for messages: no user:password@
        self.settings = settings
        self._secrets: list[Secret] = [s for s in secrets if s]
        self._secrets += _userinfo_secrets(self.base_url)
        if cache is None and settings.cache_enabled and settings.cache_dir is not None:
            cache = ResponseCache(settings.cache_dir, clock=clock)
        self.cache = cache if settings.cache_enabled else None
        self._clock = clock
        self._client: Any = None
        self._lock = threading.Lock()
        self.requests_sent = 0  # network requests, for tests and diagnostics

    def __repr__(self) -> str:
        return f"HttpClient({self.provider!r}, {self.shown_url!r})"

    def add_secret(self, secret: Secret) -> None:
        if secret and secret not in self._secrets:
            self._secrets.append(secret)

    def redact(self, text: str) -> str:
        return redact(text, [s.reveal() for s in self._secrets])

    def _fail(self, message: str, *, status: int | None = None) -> ProviderError:
        text = self.redact(f"{self.provider}: {message}")
        if status is None:
            return ProviderError(text)
        return ProviderHTTPError(text, status=status)

    def _http(self) -> Any:
        with self._lock:
            if self._client is None:
                httpx = _import_httpx()
                from carbonledger import __version__

                timeout = httpx.Timeout(
                    self.settings.read_timeout_s,
                    connect=self.settings.connect_timeout_s,
                )
                self._client = httpx.Client(
                    timeout=timeout,
                    verify=_ssl_context(httpx),
                    follow_redirects=False,  # a redirect must not carry credentials elsewhere
                    headers={
                        "User-Agent": f"carbonledger/{__version__}",
                        "Accept": "application/json",
                    },
                    trust_env=True,
                )
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def get_json(
        self,
        path: str,
        *,
        hints: ErrorHints,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, Secret | str] | None = None,
        basic_auth: tuple[Secret, Secret] | None = None,
        cache_ttl_s: float | None = None,
        zone: str | None = None,
    ) -> Any:
        """GET ``base_url + path`` and return its JSON (see :meth:`get`)."""
        return self.get(
            path,
            _as_is,
            hints=hints,
            params=params,
            headers=headers,
            basic_auth=basic_auth,
            cache_ttl_s=cache_ttl_s,
            zone=zone,
        )

    def get(
        self,
        path: str,
        parse: Callable[[Any], T],
        *,
        hints: ErrorHints,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, Secret | str] | None = None,
        basic_auth: tuple[Secret, Secret] | None = None,
        cache_ttl_s: float | None = None,
        zone: str | None = None,
    ) -> T:
        """GET ``base_url + path`` and return ``parse(json)``, from the cache when fresh.

        A response is cached only once ``parse`` accepted it (a malformed answer is never
        replayed); ``cache_ttl_s`` None means never cached (logins). Raises ProviderError (a
        :class:`ProviderHTTPError` for HTTP error statuses, a :class:`ProviderZoneError` when
        the provider says it does not know ``zone``).
        """
        query = dict(params or {})
        endpoint = self.shown_url + path  # the cache never holds a user:password
        if self.cache is not None and cache_ttl_s is not None:
            cached = self.cache.get(self.provider, endpoint, query, cache_ttl_s)
            if cached is not None:
                log.debug("%s: cache hit for %s", self.provider, path)
                return parse(cached)
        payload = self._fetch(path, query, headers or {}, basic_auth, hints, zone)
        result = parse(payload)
        if self.cache is not None and cache_ttl_s is not None:
            secrets = [s.reveal() for s in self._secrets]
            self.cache.put(self.provider, endpoint, query, payload, secrets=secrets)
        return result

    def _fetch(
        self,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, Secret | str],
        basic_auth: tuple[Secret, Secret] | None,
        hints: ErrorHints,
        zone: str | None,
    ) -> Any:
        httpx = _import_httpx()
        client = self._http()
        url = self.base_url + path
        plain_headers = {k: v.reveal() if isinstance(v, Secret) else v for k, v in headers.items()}
        auth = (basic_auth[0].reveal(), basic_auth[1].reveal()) if basic_auth else None
        attempts = self.settings.max_retries + 1
        problem = "no attempt made"
        last_status: int | None = None
        for attempt in range(attempts):
            retry_after: float | None = None
            last_status = None
            try:
                self.requests_sent += 1
                response = client.get(url, params=query, headers=plain_headers, auth=auth)
            except httpx.TimeoutException as exc:
                phase = "connecting to" if isinstance(exc, httpx.ConnectTimeout) else "waiting for"
                limit = (
                    self.settings.connect_timeout_s
                    if isinstance(exc, httpx.ConnectTimeout)
                    else self.settings.read_timeout_s
                )
                problem = (
                    f"timed out {phase} {path} after {limit:g} s; check your network, "
                    f"or raise {_ENV}TIMEOUT / {_ENV}CONNECT_TIMEOUT"
                )
            except (httpx.UnsupportedProtocol, httpx.InvalidURL):
                raise self._fail(
                    f"invalid URL {self.shown_url + path!r}; check {hints.url_env}"
                ) from None
            except httpx.TransportError as exc:
                problem = (
                    f"cannot reach {self.shown_url} ({type(exc).__name__}); check your network, "
                    f"or {hints.url_env} if you set it"
                )
            except httpx.HTTPError as exc:  # e.g. an undecodable body: retrying will not help
                raise self._fail(
                    f"request to {path} failed ({type(exc).__name__}); check {hints.url_env}"
                ) from None
            else:
                status = response.status_code
                log.debug("%s: GET %s -> HTTP %s", self.provider, self.redact(path), status)
                if 200 <= status < 300:
                    try:
                        return response.json()
                    except (ValueError, RecursionError):  # RecursionError: absurdly nested
                        raise self._fail(
                            f"malformed response from {path}: not JSON; the service may be down, "
                            f"or {hints.url_env} may point at something else"
                        ) from None
                detail = _error_detail(response)
                if status == 429 or status >= 500:
                    last_status = status
                    kind = "rate limited" if status == 429 else "server error"
                    problem = f"{kind} (HTTP {status}) on {path}: {detail}"
                    retry_after = _retry_after_s(response, self._clock())
                    if retry_after is not None and retry_after > self.settings.max_retry_after_s:
                        raise self._fail(
                            f"{problem}; the API asks to wait {retry_after:.0f} s, try again later",
                            status=status,
                        )
                else:
                    raise self._status_error(status, path, detail, hints, zone)
            if attempt + 1 < attempts:
                delay = retry_after if retry_after is not None else self.settings.backoff_s(attempt)
                log.info(
                    "%s",
                    self.redact(
                        f"{self.provider}: {problem}; retrying in {delay:.2f} s "
                        f"(attempt {attempt + 2} of {attempts})"
                    ),
                )
                self.settings.sleep(delay)
        suffix = "" if attempts == 1 else f" (gave up after {attempts} attempts)"
        if last_status == 429:
            problem += "; try again later"
        elif last_status is not None:
            problem += "; the service may be down, try again later"
        raise self._fail(problem + suffix, status=last_status)

    def _status_error(
        self, status: int, path: str, detail: str, hints: ErrorHints, zone: str | None
    ) -> ProviderError:
        if status == 401:
            return self._fail(
                f"the API refused the credentials (HTTP 401): {hints.auth}", status=401
            )
        if status == 403:
            return self._fail(
                f"access denied to {path} (HTTP 403: {detail}); {hints.forbidden}", status=403
            )
        lowered = detail.lower()
        names_zone = any(word in lowered for word in ("zone", "region", "not found", "unknown"))
        if zone is not None and (status == 404 or (status in (400, 422) and names_zone)):
            message = self.redact(
                f"{self.provider}: unknown zone {zone!r} (HTTP {status}: {detail}); "
                + hints.unknown_zone
            )
            error = ProviderZoneError(zone, message)
            error.status = status
            return error
        if 300 <= status < 400:
            return self._fail(
                f"unexpected redirect (HTTP {status}) from {path}; check {hints.url_env}",
                status=status,
            )
        return self._fail(
            f"the API rejected the request to {path} (HTTP {status}: {detail})", status=status
        )
