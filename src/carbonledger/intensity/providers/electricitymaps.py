"""Electricity Maps API v3: average, consumption-based (flow-traced) grid carbon intensity.

Endpoints: ``/carbon-intensity/latest``, ``/history`` (last 24 h), ``/past-range`` (at most
10 days of hourly data per request, so longer ranges are split) and ``/forecast``; the token
goes in the ``auth-token`` header. ``emissionFactorType`` selects the basis (lifecycle or
direct). Values flagged ``isEstimated`` are labelled ``modeled``, the others ``measured``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from carbonledger.errors import ConfigError, ProviderError
from carbonledger.intensity.base import IntensityValue
from carbonledger.intensity.providers._base import (
    ESTIMATED_UNCERTAINTY_REL,
    MEASURED_UNCERTAINTY_REL,
    LiveProvider,
)
from carbonledger.intensity.providers._http import ErrorHints, HttpClient, HttpSettings, Secret
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

__all__ = ["DEFAULT_URL", "TOKEN_ENV", "URL_ENV", "ElectricityMapsProvider"]

DEFAULT_URL = "https://api.electricitymaps.com/v3"
TOKEN_ENV = "CARBONLEDGER_ELECTRICITYMAPS_TOKEN"
URL_ENV = "CARBONLEDGER_ELECTRICITYMAPS_URL"
BASIS_ENV = "CARBONLEDGER_ELECTRICITYMAPS_BASIS"

NAME = "electricitymaps"
PAST_RANGE_MAX_S = 10 * 24 * 3600.0  # documented maximum of one hourly past-range request
HISTORY_WINDOW_S = 24 * 3600.0  # /carbon-intensity/history returns the last 24 hours
FORECAST_HORIZONS_H = (6, 24, 48, 72)

LATEST_TTL_S = 5 * 60.0
FORECAST_TTL_S = 15 * 60.0
RECENT_TTL_S = 10 * 60.0  # data of the last two days may still be revised
HISTORY_TTL_S = 7 * 24 * 3600.0
SETTLED_AFTER_S = 48 * 3600.0

_STEP_S = {"5_minutes": 300.0, "15_minutes": 900.0, "hourly": 3600.0}

# (points, step in seconds, zone) of one response
_Page = tuple[list[Point], float, str]

HINTS = ErrorHints(
    auth=f"check {TOKEN_ENV}",
    forbidden="your token has no access to this zone or endpoint; check your plan's zones",
    unknown_zone="use an Electricity Maps zone key such as DE, FR or US-CAL-CISO, or 'lat,lon'",
    url_env=URL_ENV,
)


class ElectricityMapsProvider(LiveProvider):
    """Live intensity from Electricity Maps (signal ``average``, basis lifecycle or direct).

    Zones are Electricity Maps zone keys (``DE``, ``US-CAL-CISO``) or ``"lat,lon"``.
    """

    name = NAME
    max_forecast_hours = 72.0

    def __init__(
        self,
        token: str | Secret,
        *,
        base_url: str = DEFAULT_URL,
        basis: str = "lifecycle",
        settings: HttpSettings | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        secret = token if isinstance(token, Secret) else Secret(token)
        if not secret.reveal().strip():
            raise ConfigError(f"electricitymaps needs an API token: set {TOKEN_ENV}")
        if basis not in ("lifecycle", "direct"):
            raise ConfigError(f"electricitymaps basis must be lifecycle or direct, got {basis!r}")
        self._token = secret
        self.basis = basis
        http = HttpClient(NAME, base_url, settings or HttpSettings(), secrets=[secret], clock=clock)
        super().__init__(http, clock=clock)

    def __repr__(self) -> str:
        return (
            f"ElectricityMapsProvider(base_url={self.http.shown_url!r}, "
            f"basis={self.basis!r}, token=***)"
        )

    @classmethod
    def from_environ(
        cls, environ: Mapping[str, str], *, settings: HttpSettings | None = None
    ) -> ElectricityMapsProvider:
        """From ``CARBONLEDGER_ELECTRICITYMAPS_{TOKEN,URL,BASIS}``."""
        token = environ.get(TOKEN_ENV, "").strip()
        if not token:
            raise ConfigError(f"electricitymaps needs an API token: set {TOKEN_ENV}")
        basis = environ.get(BASIS_ENV, "").strip().lower() or "lifecycle"
        return cls(
            token,
            base_url=environ.get(URL_ENV, "").strip() or DEFAULT_URL,
            basis=basis,
            settings=settings or HttpSettings.from_environ(environ),
        )

    # --- requests -----------------------------------------------------------------------
    def _location(self, zone: str) -> tuple[str, dict[str, str]]:
        text = zone.strip()
        if text.lower().startswith(NAME + ":"):
            text = text[len(NAME) + 1 :].strip()
        if not text:
            raise ConfigError("electricitymaps: empty zone")
        latlon = parse_latlon(text)
        if latlon is not None:
            return text, {"lat": f"{latlon[0]:g}", "lon": f"{latlon[1]:g}"}
        key = text.upper()
        return key, {"zone": key}

    def _get(
        self, path: str, zone: str, params: dict[str, str], ttl_s: float, list_key: str | None
    ) -> _Page:
        return self.http.get(
            path,
            lambda payload: self._page(payload, list_key, path, zone),
            params={**params, "emissionFactorType": self.basis},
            headers={"auth-token": self._token},
            cache_ttl_s=ttl_s,
            hints=HINTS,
            zone=zone,
        )

    # --- parsing ------------------------------------------------------------------------
    def _point(self, item: object, where: str) -> Point | None:
        value = as_intensity(
            require(item, "carbonIntensity", provider=NAME, where=where),
            provider=NAME,
            field="carbonIntensity",
        )
        at = parse_time(
            require(item, "datetime", provider=NAME, where=where), provider=NAME, field="datetime"
        )
        assert isinstance(item, dict)
        factor = item.get("emissionFactorType")
        if factor is not None and factor != self.basis:
            raise ProviderError(
                f"electricitymaps: asked for {self.basis} factors, the API returned {factor!r}"
            )
        flag = item.get("isEstimated")
        # absent flag: not known to be measured, so it is not labelled measured
        estimated = flag is not False or item.get("estimationMethod") not in (None, "MEASURED")
        if value is None:
            return None
        return (at, value, estimated)

    def _page(self, payload: object, list_key: str | None, where: str, zone: str) -> _Page:
        """(points, step in s, zone) of a response: one item (latest) or a list under a key."""
        if list_key is None:
            point = self._point(payload, where)
            points = [] if point is None else [point]
        else:
            items = require(payload, list_key, provider=NAME, where=where)
            if not isinstance(items, list):
                raise ProviderError(
                    f"electricitymaps: malformed response from {where}: {list_key!r} is not a list"
                )
            points = [p for p in (self._point(item, where) for item in items) if p is not None]
        assert isinstance(payload, dict)  # require() and _point() checked it
        granularity = payload.get("temporalGranularity")
        found = payload.get("zone")
        return (
            points,
            _STEP_S.get(str(granularity), 3600.0),
            found if isinstance(found, str) and found else zone,
        )

    # --- IntensityProvider --------------------------------------------------------------
    def latest(self, zone: str) -> IntensityValue:
        """The latest hour's intensity (``/carbon-intensity/latest``)."""
        key, params = self._location(zone)
        where = "/carbon-intensity/latest"
        points, _, zone_key = self._get(where, key, params, LATEST_TTL_S, None)
        if not points:
            raise ProviderError(
                f"electricitymaps: no current intensity for {zone_key} (the API gave null)"
            )
        at, value, estimated = points[0]
        return IntensityValue(
            g_per_kwh=value,
            zone=zone_key,
            signal="average",
            basis=self.basis,
            method=Method.MODELED if estimated else Method.MEASURED,
            source=f"{NAME}:{zone_key}@{format_utc(at, 'minutes')}",
            uncertainty_rel=ESTIMATED_UNCERTAINTY_REL if estimated else MEASURED_UNCERTAINTY_REL,
            at=at,
        )

    def history(self, zone: str, start: float, end: float) -> IntensitySeries:
        """Hourly intensity over ``[start, end)``: ``/history`` within the last 24 h, else
        ``/past-range`` split into pieces of at most 10 days."""
        if not end > start:
            raise ProviderError(
                f"electricitymaps: empty time range {format_utc(start)} to {format_utc(end)}"
            )
        now = self._clock()
        if start >= now:
            raise ProviderError(
                "electricitymaps: history is for past times; use forecast for the future"
            )
        key, params = self._location(zone)
        points: list[Point] = []
        step_s: float | None = None
        zone_key = key
        if start >= now - HISTORY_WINDOW_S + 3600.0:
            where = "/carbon-intensity/history"
            points, step_s, zone_key = self._get(where, key, params, RECENT_TTL_S, "history")
        else:
            where = "/carbon-intensity/past-range"
            for a, b in split_range(start, min(end, now), PAST_RANGE_MAX_S):
                settled = b < now - SETTLED_AFTER_S
                got, step_s, zone_key = self._get(
                    where,
                    key,
                    {**params, "start": format_utc(a), "end": format_utc(b)},
                    HISTORY_TTL_S if settled else RECENT_TTL_S,
                    "data",
                )
                points.extend(got)
        return build_series(
            points,
            zone=zone_key,
            signal="average",
            basis=self.basis,
            source=f"{NAME}:{zone_key}",
            step_s=step_s,
            uncertainty_rel=MEASURED_UNCERTAINTY_REL,
            provider=NAME,
            start=start,
            end=end,
        )

    def forecast(self, zone: str, hours: float = 24) -> IntensitySeries:
        """The forecast from the current hour up to ``hours`` ahead (at most 72 h)."""
        hours = self._forecast_hours(hours)
        key, params = self._location(zone)
        horizon = next(h for h in FORECAST_HORIZONS_H if h >= hours)
        where = "/carbon-intensity/forecast"
        got, step_s, zone_key = self._get(
            where, key, {**params, "horizonHours": str(horizon)}, FORECAST_TTL_S, "forecast"
        )
        points = [(t, v, True) for t, v, _ in got]
        if not points:
            raise ProviderError(f"electricitymaps: the forecast for {zone_key} is empty")
        first = min(p[0] for p in points)
        return build_series(
            points,
            zone=zone_key,
            signal="average",
            basis=self.basis,
            source=f"{NAME}:{zone_key} forecast",
            step_s=step_s,
            uncertainty_rel=ESTIMATED_UNCERTAINTY_REL,
            provider=NAME,
            end=first + hours * 3600.0,
        )
