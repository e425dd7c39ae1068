"""The one HTTP boundary of the live providers: timeouts, retries, cache, error mapping.

Credentials live in :mod:`._secrets`, timeouts and retries in :mod:`._settings`; this
module is the client.

Every httpx exception and every HTTP error status is turned into a
:class:`~carbonledger.errors.ProviderError` here, once, with one line that says what went
wrong and what to do. Credentials are held in :class:`Secret` (whose repr is ``***``) and
every message, log line and cache entry is scrubbed of them.

httpx is imported on first request, so importing this module stays cheap.
"""

from __future__ import annotations

import email.utils
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from carbonledger.errors import (
    ConfigError,
    ProviderError,
    ProviderHTTPError,
    ProviderZoneError,
)
from carbonledger.intensity.providers._cache import ResponseCache, credential_id
from carbonledger.intensity.providers._secrets import (
    Secret,
    redact,
    userinfo_secrets,
    without_userinfo,
)
from carbonledger.intensity.providers._settings import ENV_PREFIX as _ENV
from carbonledger.intensity.providers._settings import HttpSettings

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


@dataclass(frozen=True)
class ErrorHints:
    """What to tell the user for each kind of failure of one provider's requests."""

    auth: str  # 401: e.g. "check CARBONLEDGER_ELECTRICITYMAPS_TOKEN"
    forbidden: str  # 403
    unknown_zone: str  # 404, or 400 naming the zone/region
    url_env: str  # the variable that overrides the base URL


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
        identity: str = "",
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.shown_url = without_userinfo(self.base_url)  # for messages: no user:password@
        self.settings = settings
        self._secrets: list[Secret] = [s for s in secrets if s]
        self._secrets += userinfo_secrets(self.base_url)
        # the cache keys answers by a hash of the credential (and ``identity``, e.g. a
        # user name), never by the credential: one token's answer is not another's
        self._credential = credential_id([identity, *(s.reveal() for s in self._secrets)])
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
            cached = self.cache.get(
                self.provider, endpoint, query, cache_ttl_s, credential=self._credential
            )
            if cached is not None:
                log.debug("%s: cache hit for %s", self.provider, path)
                return parse(cached)
        payload = self._fetch(path, query, headers or {}, basic_auth, hints, zone)
        result = parse(payload)
        if self.cache is not None and cache_ttl_s is not None:
            secrets = [s.reveal() for s in self._secrets]
            self.cache.put(
                self.provider,
                endpoint,
                query,
                payload,
                secrets=secrets,
                credential=self._credential,
            )
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
