"""WattTime API v3: marginal operating emissions rate (MOER) of a grid region.

``GET /login`` with HTTP Basic gives a bearer token (kept in memory, renewed once on 401 and
after its documented 30 minutes). ``/v3/forecast`` gives the current value (its first
point, horizon 0) and forecasts; ``/v3/historical`` gives past values, at most 32 days per
request (longer ranges are split and joined); ``/v3/region-from-loc`` maps ``"lat,lon"`` to
a region. Values are lbs CO2/MWh and are converted with
:func:`carbonledger.units.lbs_per_mwh_to_g_per_kwh`. A percentile index (the signal index,
units ``percent``) is not an intensity and is refused.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from carbonledger.errors import ConfigError, ProviderError
from carbonledger.intensity.base import IntensityValue
from carbonledger.intensity.providers._base import ESTIMATED_UNCERTAINTY_REL, LiveProvider
from carbonledger.intensity.providers._http import (
    ErrorHints,
    HttpClient,
    HttpSettings,
    ProviderHTTPError,
    Secret,
)
from carbonledger.intensity.providers._util import (
    Point,
    as_intensity,
    build_series,
    format_utc,
    parse_latlon,
    parse_time,
    require,
    split_range,
)
from carbonledger.intensity.series import IntensitySeries
from carbonledger.records import Method
from carbonledger.units import lbs_per_mwh_to_g_per_kwh

__all__ = ["DEFAULT_URL", "PASSWORD_ENV", "URL_ENV", "USERNAME_ENV", "WattTimeProvider"]

DEFAULT_URL = "https://api.watttime.org"
USERNAME_ENV = "CARBONLEDGER_WATTTIME_USERNAME"
PASSWORD_ENV = "CARBONLEDGER_WATTTIME_PASSWORD"
URL_ENV = "CARBONLEDGER_WATTTIME_URL"

NAME = "watttime"
# signal types that are intensities, and the signal each one is
SIGNALS = {"co2_moer": "marginal", "co2_aoer": "average"}
MASS_UNITS = ("lbs_co2_per_mwh", "lbs_co2e_per_mwh")
HISTORICAL_MAX_S = 32 * 24 * 3600.0  # documented maximum of one /v3/historical request
TOKEN_LIFETIME_S = 30 * 60.0  # documented validity of a login token
TOKEN_RENEW_MARGIN_S = 60.0

LATEST_TTL_S = 4 * 60.0  # the signal is updated every 5 minutes
FORECAST_TTL_S = 4 * 60.0
RECENT_TTL_S = 10 * 60.0
HISTORY_TTL_S = 7 * 24 * 3600.0
SETTLED_AFTER_S = 48 * 3600.0
REGION_TTL_S = 7 * 24 * 3600.0  # WattTime asks to re-query region-from-loc monthly

_CREDENTIALS = f"check {USERNAME_ENV} and {PASSWORD_ENV}"
LOGIN_HINTS = ErrorHints(
    auth=f"login refused; {_CREDENTIALS}",
    forbidden=f"login refused; {_CREDENTIALS}",
    unknown_zone="",
    url_env=URL_ENV,
)
DATA_HINTS = ErrorHints(
    auth=f"the token was refused after a fresh login; {_CREDENTIALS}",
    forbidden=(
        "your WattTime plan has no access to this region or signal (free accounts: CAISO_NORTH)"
    ),
    unknown_zone="use a WattTime region code such as CAISO_NORTH, or 'lat,lon'",
    url_env=URL_ENV,
)


T = TypeVar("T")


def _text_field(payload: Any, key: str, where: str) -> str:
    value = require(payload, key, provider=NAME, where=where)
    if not isinstance(value, str) or not value:
        raise ProviderError(f"watttime: malformed response from {where}: field {key!r} is empty")
    return value


def check_signal_type(signal_type: str) -> str:
    """The carbonledger signal (marginal/average) of a WattTime intensity ``signal_type``.

    A percentile index or any non-intensity signal (``health_damage``) raises ProviderError.
    """
    text = signal_type.strip().lower()
    if text in SIGNALS:
        return SIGNALS[text]
    if "index" in text or "percent" in text:
        raise ProviderError(
            f"watttime: signal {signal_type!r} is a percentile index (0-100), not an intensity; "
            "carbonledger never uses it as g/kWh: use co2_moer"
        )
    raise ProviderError(
        f"watttime: signal {signal_type!r} is not a carbon intensity; use co2_moer or co2_aoer"
    )


class WattTimeProvider(LiveProvider):
    """Live intensity from WattTime (``co2_moer``: signal ``marginal``, basis ``direct``).

    Zones are WattTime region codes (``CAISO_NORTH``; a ``watttime:`` prefix is allowed)
    or ``"lat,lon"``. Every WattTime value is model output, so it is labelled ``modeled``.
    """

    name = NAME
    max_forecast_hours = 72.0

    def __init__(
        self,
        username: str | Secret,
        password: str | Secret,
        *,
        base_url: str = DEFAULT_URL,
        signal_type: str = "co2_moer",
        settings: HttpSettings | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        user = username if isinstance(username, Secret) else Secret(username)
        word = password if isinstance(password, Secret) else Secret(password)
        if not user.reveal().strip() or not word.reveal():
            raise ConfigError(f"watttime needs credentials: set {USERNAME_ENV} and {PASSWORD_ENV}")
        self.signal = check_signal_type(signal_type)
        self.signal_type = signal_type.strip().lower()
        self._username = user
        self._password = word
        self._token: Secret | None = None
        self._token_expires = 0.0
        self._token_lock = threading.Lock()
        self.logins = 0
        # the password and every token are secrets (the username is not)
        http = HttpClient(
            NAME,
            base_url,
            settings or HttpSettings(),
            secrets=[word],
            clock=clock,
            identity=user.reveal(),
        )
        super().__init__(http, clock=clock)

    def __repr__(self) -> str:
        return (
            f"WattTimeProvider(base_url={self.http.shown_url!r}, "
            f"signal_type={self.signal_type!r}, username=***, password=***)"
        )

    @classmethod
    def from_environ(
        cls, environ: Mapping[str, str], *, settings: HttpSettings | None = None
    ) -> WattTimeProvider:
        """From ``CARBONLEDGER_WATTTIME_{USERNAME,PASSWORD,URL}``."""
        username = environ.get(USERNAME_ENV, "").strip()
        password = environ.get(PASSWORD_ENV, "")
        if not username or not password:
            raise ConfigError(f"watttime needs credentials: set {USERNAME_ENV} and {PASSWORD_ENV}")
        return cls(
            username,
            password,
            base_url=environ.get(URL_ENV, "").strip() or DEFAULT_URL,
            settings=settings or HttpSettings.from_environ(environ),
        )

    # --- authentication -----------------------------------------------------------------
    def _login(self) -> Secret:
        token = self.http.get(
            "/login",
            lambda payload: _text_field(payload, "token", "/login"),
            basic_auth=(self._username, self._password),
            hints=LOGIN_HINTS,
        )
        secret = Secret(token)
        self.http.add_secret(secret)
        self.logins += 1
        return secret

    def _bearer(self, renew: bool = False) -> Secret:
        with self._token_lock:
            now = self._clock()
            if renew or self._token is None or now >= self._token_expires:
                self._token = self._login()
                self._token_expires = now + TOKEN_LIFETIME_S - TOKEN_RENEW_MARGIN_S
            return self._token

    def _get(
        self,
        path: str,
        params: dict[str, str],
        ttl_s: float,
        zone: str,
        parse: Callable[[Any], T],
    ) -> T:
        renewed = False
        while True:
            token = self._bearer(renew=renewed)
            try:
                return self.http.get(
                    path,
                    parse,
                    params=params,
                    headers={"Authorization": Secret("Bearer " + token.reveal())},
                    cache_ttl_s=ttl_s,
                    hints=DATA_HINTS,
                    zone=zone,
                )
            except ProviderHTTPError as exc:
                if exc.status != 401 or renewed:
                    raise
                renewed = True  # the token expired early or was revoked: log in once more

    def region(self, zone: str) -> str:
        """The WattTime region code for ``zone`` (a region code, or ``"lat,lon"``)."""
        text = zone.strip()
        if text.lower().startswith(NAME + ":"):
            text = text[len(NAME) + 1 :].strip()
        if not text:
            raise ConfigError("watttime: empty region")
        latlon = parse_latlon(text)
        if latlon is None:
            return text.upper()
        where = "/v3/region-from-loc"
        return self._get(
            where,
            {
                "latitude": f"{latlon[0]:g}",
                "longitude": f"{latlon[1]:g}",
                "signal_type": self.signal_type,
            },
            REGION_TTL_S,
            text,
            lambda payload: _text_field(payload, "region", where),
        )

    # --- parsing ------------------------------------------------------------------------
    def _check_meta(self, payload: object, where: str) -> float | None:
        """Refuse anything that is not this signal in lbs/MWh; the data period in seconds."""
        meta = require(payload, "meta", provider=NAME, where=where)
        if not isinstance(meta, dict):
            raise ProviderError(
                f"watttime: malformed response from {where}: 'meta' is not an object"
            )
        units = str(require(meta, "units", provider=NAME, where=where + " meta")).strip().lower()
        signal_type = str(meta.get("signal_type", self.signal_type)).strip().lower()
        if units in ("percent", "%") or "index" in signal_type or "percent" in units:
            raise ProviderError(
                f"watttime: {where} returned a percentile index (units {units!r}), not an "
                "intensity; carbonledger never uses it as g/kWh: check that your plan includes "
                f"{self.signal_type} in lbs/MWh"
            )
        if signal_type != self.signal_type:
            raise ProviderError(
                f"watttime: asked for {self.signal_type}, {where} returned {signal_type!r}"
            )
        if units not in MASS_UNITS:
            raise ProviderError(
                f"watttime: {where} returned units {units!r}; carbonledger expects lbs_co2_per_mwh"
            )
        period = meta.get("data_point_period_seconds")
        if isinstance(period, (int, float)) and not isinstance(period, bool) and period > 0:
            return float(period)
        return None

    def _points(self, payload: object, where: str) -> list[Point]:
        items = require(payload, "data", provider=NAME, where=where)
        if not isinstance(items, list):
            raise ProviderError(f"watttime: malformed response from {where}: 'data' is not a list")
        points: list[Point] = []
        for item in items:
            at = parse_time(
                require(item, "point_time", provider=NAME, where=where),
                provider=NAME,
                field="point_time",
            )
            lbs = as_intensity(
                require(item, "value", provider=NAME, where=where), provider=NAME, field="value"
            )
            if lbs is None:
                continue
            points.append((at, lbs_per_mwh_to_g_per_kwh(lbs), True))
        return points

    def _data(self, where: str) -> Callable[[Any], tuple[list[Point], float | None]]:
        """A parser of a data response: (points in g/kWh, data period in s)."""

        def parse(payload: Any) -> tuple[list[Point], float | None]:
            step_s = self._check_meta(payload, where)
            return self._points(payload, where), step_s

        return parse

    def _source(self, region: str) -> str:
        return f"{NAME}:{region}:{self.signal_type}"

    # --- IntensityProvider --------------------------------------------------------------
    def latest(self, zone: str) -> IntensityValue:
        """The current value: the first point (horizon 0) of ``/v3/forecast``."""
        region = self.region(zone)
        where = "/v3/forecast"
        params = {"region": region, "signal_type": self.signal_type, "horizon_hours": "0"}
        points, _ = self._get(where, params, LATEST_TTL_S, region, self._data(where))
        if not points:
            raise ProviderError(f"watttime: no current value for {region} (empty forecast)")
        at, value, _ = min(points)
        return IntensityValue(
            g_per_kwh=value,
            zone=region,
            signal=self.signal,
            basis="direct",
            method=Method.MODELED,
            source=f"{self._source(region)}@{format_utc(at, 'minutes')}",
            uncertainty_rel=ESTIMATED_UNCERTAINTY_REL,
            at=at,
        )

    def history(self, zone: str, start: float, end: float) -> IntensitySeries:
        """Past values over ``[start, end)`` from ``/v3/historical``, 32 days per request."""
        if not end > start:
            raise ProviderError(
                f"watttime: empty time range {format_utc(start)} to {format_utc(end)}"
            )
        now = self._clock()
        if start >= now:
            raise ProviderError("watttime: history is for past times; use forecast for the future")
        region = self.region(zone)
        where = "/v3/historical"
        points: list[Point] = []
        step_s: float | None = None
        for a, b in split_range(start, min(end, now), HISTORICAL_MAX_S):
            settled = b < now - SETTLED_AFTER_S
            got, period_s = self._get(
                where,
                {
                    "region": region,
                    "signal_type": self.signal_type,
                    "start": format_utc(a, "offset"),
                    "end": format_utc(b, "offset"),
                },
                HISTORY_TTL_S if settled else RECENT_TTL_S,
                region,
                self._data(where),
            )
            step_s = period_s or step_s
            points.extend(got)
        return build_series(
            points,
            zone=region,
            signal=self.signal,
            basis="direct",
            source=self._source(region),
            step_s=step_s,
            uncertainty_rel=ESTIMATED_UNCERTAINTY_REL,
            provider=NAME,
            start=start,
            end=end,
        )

    def forecast(self, zone: str, hours: float = 24) -> IntensitySeries:
        """The forecast from the current 5-minute period up to ``hours`` (at most 72) ahead."""
        hours = self._forecast_hours(hours)
        region = self.region(zone)
        where = "/v3/forecast"
        params = {
            "region": region,
            "signal_type": self.signal_type,
            "horizon_hours": str(math.ceil(hours)),
        }
        points, step_s = self._get(where, params, FORECAST_TTL_S, region, self._data(where))
        if not points:
            raise ProviderError(f"watttime: the forecast for {region} is empty")
        first = min(p[0] for p in points)
        return build_series(
            points,
            zone=region,
            signal=self.signal,
            basis="direct",
            source=f"{self._source(region)} forecast",
            step_s=step_s,
            uncertainty_rel=ESTIMATED_UNCERTAINTY_REL,
            provider=NAME,
            end=first + hours * 3600.0,
        )
