"""The GB Carbon Intensity API (National Energy System Operator; no key needed).

National: ``/intensity`` (current half hour), ``/intensity/{from}/{to}`` (past),
``/intensity/{from}/fw48h`` (forecast). Regional (17 region ids, see :data:`REGIONS`):
``/regional/regionid/{id}``, ``/regional/intensity/{from}/{to}/regionid/{id}``,
``/regional/intensity/{from}/fw48h/regionid/{id}``. Each half hour carries ``actual`` (an
estimate from metered generation, labelled ``measured``) and ``forecast`` (labelled
``modeled``, used when ``actual`` is null; regional data has forecasts only).

The API counts CO2 from generation (operational emissions) in gCO2/kWh: the basis is
``direct``, not lifecycle.
"""

from __future__ import annotations

import difflib
import re
import time
from collections.abc import Callable, Mapping

from carbonledger.errors import ProviderError
from carbonledger.intensity.base import IntensityValue
from carbonledger.intensity.providers._base import (
    ESTIMATED_UNCERTAINTY_REL,
    MEASURED_UNCERTAINTY_REL,
    LiveProvider,
)
from carbonledger.intensity.providers._http import (
    ErrorHints,
    HttpClient,
    HttpSettings,
    ProviderZoneError,
)
from carbonledger.intensity.providers._util import (
    Point,
    as_intensity,
    build_series,
    floor_to,
    format_utc,
    parse_time,
    require,
    split_range,
)
from carbonledger.intensity.series import IntensitySeries
from carbonledger.records import Method

__all__ = ["DEFAULT_URL", "REGIONS", "URL_ENV", "UKGridProvider", "parse_zone"]

DEFAULT_URL = "https://api.carbonintensity.org.uk"
URL_ENV = "CARBONLEDGER_UKGRID_URL"
NAME = "ukgrid"

# region id -> the API's short name
REGIONS: dict[int, str] = {
    1: "North Scotland",
    2: "South Scotland",
    3: "North West England",
    4: "North East England",
    5: "Yorkshire",
    6: "North Wales & Merseyside",
    7: "South Wales",
    8: "West Midlands",
    9: "East Midlands",
    10: "East England",
    11: "South West England",
    12: "South England",
    13: "London",
    14: "South East England",
    15: "England",
    16: "Scotland",
    17: "Wales",
}
_ALIASES: dict[str, int] = {
    "southyorkshire": 5,
    "northwalesmerseyside": 6,
    "northwalesmerseysideandcheshire": 6,
    "northwalesmerseysidecheshire": 6,
    "eng": 15,
    "sct": 16,
    "wls": 17,
}
NATIONAL = ("gb", "uk", "national")

RANGE_MAX_S = 14 * 24 * 3600.0  # keep each from/to request within two weeks
PERIOD_S = 1800.0
MAX_FORECAST_H = 48.0

LATEST_TTL_S = 5 * 60.0
FORECAST_TTL_S = 15 * 60.0
RECENT_TTL_S = 10 * 60.0
HISTORY_TTL_S = 7 * 24 * 3600.0
SETTLED_AFTER_S = 48 * 3600.0

HINTS = ErrorHints(
    auth="the Carbon Intensity API needs no key; check " + URL_ENV,
    forbidden="check " + URL_ENV,
    unknown_zone="use GB, GB-<regionid> (1-17) or a region name such as London",
    url_env=URL_ENV,
)


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


_BY_NAME: dict[str, int] = {_key(name): rid for rid, name in REGIONS.items()} | _ALIASES


def parse_zone(zone: str) -> int | None:
    """The region id of a GB zone, or None for the national figure.

    Accepted: ``GB`` (national), ``GB-<id>`` or ``<id>`` (1-17), a region name (``London``,
    ``GB-London``, ``north-scotland``), ``GB-ENG``/``GB-SCT``/``GB-WLS``; an optional
    ``ukgrid:`` prefix. Anything else raises :class:`ProviderZoneError`.
    """
    text = zone.strip()
    if text.lower().startswith(NAME + ":"):
        text = text[len(NAME) + 1 :].strip()
    lowered = text.lower()
    if lowered in NATIONAL:
        return None
    rest = re.sub(r"^(gb|uk)[-_ :]", "", lowered)
    if rest.isdigit() and 1 <= int(rest) <= 17:
        return int(rest)
    rid = _BY_NAME.get(_key(rest))
    if rid is not None:
        return rid
    choices = ["GB", *(f"GB-{i}" for i in REGIONS), *REGIONS.values()]
    close = difflib.get_close_matches(text, choices, n=3, cutoff=0.6)
    raise ProviderZoneError(
        zone,
        f"ukgrid: unknown zone {zone!r}; {HINTS.unknown_zone}"
        + (f" (did you mean {', '.join(close)}?)" if close else ""),
        close,
    )


def zone_name(region: int | None) -> str:
    return "GB" if region is None else f"GB-{region}"


class UKGridProvider(LiveProvider):
    """Live intensity for Great Britain (signal ``average``, basis ``direct``)."""

    name = NAME
    max_forecast_hours = MAX_FORECAST_H

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_URL,
        settings: HttpSettings | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            HttpClient(NAME, base_url, settings or HttpSettings(), clock=clock), clock=clock
        )

    def __repr__(self) -> str:
        return f"UKGridProvider(base_url={self.http.shown_url!r})"

    @classmethod
    def from_environ(
        cls, environ: Mapping[str, str], *, settings: HttpSettings | None = None
    ) -> UKGridProvider:
        """From ``CARBONLEDGER_UKGRID_URL`` (no credentials needed)."""
        return cls(
            base_url=environ.get(URL_ENV, "").strip() or DEFAULT_URL,
            settings=settings or HttpSettings.from_environ(environ),
        )

    def _get(self, path: str, zone: str, ttl_s: float, regional: bool) -> tuple[list[Point], float]:
        return self.http.get(
            path,
            lambda payload: self._points(payload, path, regional),
            cache_ttl_s=ttl_s,
            hints=HINTS,
            zone=zone,
        )

    # --- parsing ------------------------------------------------------------------------
    def _periods(self, payload: object, where: str, regional: bool) -> list[object]:
        data = require(payload, "data", provider=NAME, where=where)
        if regional:
            # /regional/regionid/{id} gives [region]; the from/to and fw48h routes give region
            if isinstance(data, list):
                if not data:
                    raise ProviderError(f"ukgrid: malformed response from {where}: 'data' is empty")
                data = data[0]
            data = require(data, "data", provider=NAME, where=where)
        if not isinstance(data, list):
            raise ProviderError(f"ukgrid: malformed response from {where}: 'data' is not a list")
        return data

    def _points(self, payload: object, where: str, regional: bool) -> tuple[list[Point], float]:
        points: list[Point] = []
        step_s = PERIOD_S
        for item in self._periods(payload, where, regional):
            start = parse_time(
                require(item, "from", provider=NAME, where=where), provider=NAME, field="from"
            )
            intensity = require(item, "intensity", provider=NAME, where=where)
            actual = as_intensity(
                intensity.get("actual") if isinstance(intensity, dict) else None,
                provider=NAME,
                field="intensity.actual",
            )
            forecast = as_intensity(
                require(intensity, "forecast", provider=NAME, where=where),
                provider=NAME,
                field="intensity.forecast",
            )
            assert isinstance(item, dict)
            to = item.get("to")
            if isinstance(to, str):
                end = parse_time(to, provider=NAME, field="to")
                if end > start:
                    step_s = end - start
            if actual is not None:
                points.append((start, actual, False))
            elif forecast is not None:
                points.append((start, forecast, True))
        return points, step_s

    def _series(
        self,
        points: list[Point],
        step_s: float,
        region: int | None,
        *,
        start: float,
        end: float,
        label: str = "",
    ) -> IntensitySeries:
        zone = zone_name(region)
        any_measured = any(not estimated for _, _, estimated in points)
        return build_series(
            points,
            zone=zone,
            signal="average",
            basis="direct",
            source=f"{NAME}:{zone}{label}",
            step_s=step_s,
            uncertainty_rel=MEASURED_UNCERTAINTY_REL if any_measured else ESTIMATED_UNCERTAINTY_REL,
            provider=NAME,
            start=start,
            end=end,
        )

    # --- IntensityProvider --------------------------------------------------------------
    def latest(self, zone: str) -> IntensityValue:
        """The current half hour (``/intensity`` or ``/regional/regionid/{id}``)."""
        region = parse_zone(zone)
        where = "/intensity" if region is None else f"/regional/regionid/{region}"
        points, _ = self._get(where, zone, LATEST_TTL_S, region is not None)
        if not points:
            raise ProviderError(f"ukgrid: no current intensity for {zone_name(region)}")
        at, value, estimated = max(points)
        name = zone_name(region)
        return IntensityValue(
            g_per_kwh=value,
            zone=name,
            signal="average",
            basis="direct",
            method=Method.MODELED if estimated else Method.MEASURED,
            source=f"{NAME}:{name}@{format_utc(at, 'minutes')}",
            uncertainty_rel=ESTIMATED_UNCERTAINTY_REL if estimated else MEASURED_UNCERTAINTY_REL,
            at=at,
        )

    def history(self, zone: str, start: float, end: float) -> IntensitySeries:
        """Half-hourly intensity over ``[start, end)``, in requests of at most 14 days."""
        if not end > start:
            raise ProviderError(
                f"ukgrid: empty time range {format_utc(start)} to {format_utc(end)}"
            )
        region = parse_zone(zone)
        now = self._clock()
        points: list[Point] = []
        step_s = PERIOD_S
        for a, b in split_range(floor_to(start, PERIOD_S), end, RANGE_MAX_S):
            span = f"{format_utc(a, 'minutes')}/{format_utc(b, 'minutes')}"
            where = (
                f"/intensity/{span}"
                if region is None
                else f"/regional/intensity/{span}/regionid/{region}"
            )
            settled = b < now - SETTLED_AFTER_S
            ttl_s = HISTORY_TTL_S if settled else RECENT_TTL_S
            got, step_s = self._get(where, zone, ttl_s, region is not None)
            points.extend(got)
        return self._series(points, step_s, region, start=start, end=end)

    def forecast(self, zone: str, hours: float = 24) -> IntensitySeries:
        """The forecast from the current half hour up to ``hours`` (at most 48) ahead."""
        hours = self._forecast_hours(hours)
        region = parse_zone(zone)
        begin = floor_to(self._clock(), PERIOD_S)
        stamp = format_utc(begin, "minutes")
        where = (
            f"/intensity/{stamp}/fw48h"
            if region is None
            else f"/regional/intensity/{stamp}/fw48h/regionid/{region}"
        )
        points, step_s = self._get(where, zone, FORECAST_TTL_S, region is not None)
        return self._series(
            points, step_s, region, label=" forecast", start=begin, end=begin + hours * 3600.0
        )
