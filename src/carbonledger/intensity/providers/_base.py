"""What every live provider offers, and the logic they share around ``intensity(zone, at)``."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from carbonledger.errors import ProviderError
from carbonledger.intensity.base import IntensitySource, IntensityValue
from carbonledger.intensity.providers._http import HttpClient
from carbonledger.intensity.providers._util import floor_to, format_utc
from carbonledger.intensity.series import ESTIMATED_UNCERTAINTY_REL, IntensitySeries
from carbonledger.records import Method

__all__ = [
    "ESTIMATED_UNCERTAINTY_REL",
    "MEASURED_UNCERTAINTY_REL",
    "IntensityProvider",
    "LiveProvider",
]

# carbonledger's own rough relative uncertainties (the providers publish none per value)
MEASURED_UNCERTAINTY_REL = 0.10  # ESTIMATED_UNCERTAINTY_REL (0.20) lives in series.py

HOUR_S = 3600.0
NOW_TOLERANCE_S = 60.0  # a time this close to now asks for the latest value


@runtime_checkable
class IntensityProvider(IntensitySource, Protocol):
    """An :class:`IntensitySource` that also gives past series and forecasts.

    Times are unix seconds (UTC). ``history`` covers ``[start, end)``; ``forecast`` starts
    at the current period and reaches ``hours`` ahead, or as far as the provider forecasts
    (the returned series' ``end`` says how far).
    """

    name: str

    def intensity(self, zone: str, at: float | None = None) -> IntensityValue: ...

    def history(self, zone: str, start: float, end: float) -> IntensitySeries: ...

    def forecast(self, zone: str, hours: float = 24) -> IntensitySeries: ...


class LiveProvider:
    """Shared behaviour: ``at=None`` → latest; a past ``at`` → the history hour holding it;
    a future ``at`` → the forecast. Subclasses implement :meth:`latest`, :meth:`history`,
    :meth:`forecast` and set ``name`` and ``max_forecast_hours``."""

    name: str = "provider"
    max_forecast_hours: float = 72.0

    def __init__(self, http: HttpClient, *, clock: Callable[[], float] = time.time) -> None:
        self.http = http
        self._clock = clock

    def __enter__(self) -> LiveProvider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connection pool (the provider can still be used afterwards)."""
        self.http.close()

    @property
    def requests_sent(self) -> int:
        return self.http.requests_sent

    # --- to implement -------------------------------------------------------------------
    def latest(self, zone: str) -> IntensityValue:
        raise NotImplementedError

    def history(self, zone: str, start: float, end: float) -> IntensitySeries:
        raise NotImplementedError

    def forecast(self, zone: str, hours: float = 24) -> IntensitySeries:
        raise NotImplementedError

    # --- shared -------------------------------------------------------------------------
    def intensity(self, zone: str, at: float | None = None) -> IntensityValue:
        """The intensity for ``zone`` now (``at=None``, or within a minute of now) or at unix
        time ``at`` (past: the history hour holding it; future: the forecast)."""
        if at is None:
            return self.latest(zone)
        if not math.isfinite(at):
            raise ProviderError(f"{self.name}: invalid time {at!r}")
        now = self._clock()
        if abs(at - now) <= NOW_TOLERANCE_S:
            return self.latest(zone)
        if at > now:
            hours = math.ceil((at - now) / HOUR_S) + 1
            if at - now > self.max_forecast_hours * HOUR_S:
                raise ProviderError(
                    f"{self.name}: {format_utc(at, 'minutes')} is beyond the "
                    f"{self.max_forecast_hours:g} h forecast horizon"
                )
            series = self.forecast(zone, hours=min(float(hours), self.max_forecast_hours))
        else:
            start = floor_to(at, HOUR_S)
            series = self.history(zone, start, start + HOUR_S)
        return self.value_from_series(series, at)

    def _forecast_hours(self, hours: float) -> float:
        """``hours`` capped at the provider's horizon (the series' end shows the reach)."""
        if not (math.isfinite(hours) and hours > 0):
            raise ProviderError(f"{self.name}: a forecast needs a positive number of hours")
        return min(hours, self.max_forecast_hours)

    def value_from_series(self, series: IntensitySeries, at: float) -> IntensityValue:
        """The value in force at ``at`` with a time-stamped source, or a ProviderError."""
        i = series.index_at(at)
        if i is None:
            raise ProviderError(
                f"{self.name}: no intensity for {series.zone} at {format_utc(at, 'minutes')}; "
                "the provider has no data for that time"
            )
        estimated = bool(series.estimated[i]) if series.estimated is not None else False
        return IntensityValue(
            g_per_kwh=series.values_g_per_kwh[i],
            zone=series.zone,
            signal=series.signal,
            basis=series.basis,
            method=Method.MODELED if estimated else Method.MEASURED,
            source=f"{series.source}@{format_utc(series.times[i], 'minutes')}",
            uncertainty_rel=max(
                series.uncertainty_rel, ESTIMATED_UNCERTAINTY_REL if estimated else 0.0
            ),
            at=series.times[i],
        )
