"""A CSV intensity series (``CARBONLEDGER_INTENSITY_SERIES``) behind the provider interface.

The file is read by :func:`carbonledger.intensity.series_csv.load_series`, imported and
called on first use.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from carbonledger.errors import ConfigError, ProviderError, UnknownZoneError
from carbonledger.intensity.base import IntensityValue
from carbonledger.intensity.providers._util import format_utc
from carbonledger.intensity.series import IntensitySeries, label_user_series

__all__ = ["BASIS_ENV", "SERIES_ENV", "CsvSeriesProvider"]

SERIES_ENV = "CARBONLEDGER_INTENSITY_SERIES"
BASIS_ENV = "CARBONLEDGER_INTENSITY_SERIES_BASIS"
NAME = "csv"


def _norm(zone: str) -> str:
    return zone.strip().upper()


class CsvSeriesProvider:
    """Intensity from a time series file: ``intensity`` at a time, ``history`` (a slice) and
    ``forecast`` (the part of the file after now, for files that hold forecasts)."""

    name = NAME

    def __init__(
        self,
        path: Path,
        *,
        basis: str = "lifecycle",
        zone: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.basis = basis
        self.zone = zone
        self._clock = clock
        self._series: IntensitySeries | None = None

    def __repr__(self) -> str:
        return f"CsvSeriesProvider({str(self.path)!r}, basis={self.basis!r})"

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> CsvSeriesProvider:
        """From ``CARBONLEDGER_INTENSITY_SERIES`` (and optional ``..._SERIES_BASIS``)."""
        raw = environ.get(SERIES_ENV, "").strip()
        if not raw:
            raise ConfigError(f"the csv provider reads a series file: set {SERIES_ENV}")
        basis = environ.get(BASIS_ENV, "").strip().lower() or "lifecycle"
        if basis not in ("lifecycle", "direct"):
            raise ConfigError(f"{BASIS_ENV}: must be lifecycle or direct, got {basis!r}")
        return cls(Path(raw).expanduser(), basis=basis)

    @property
    def series(self) -> IntensitySeries:
        """The loaded series (read on first use)."""
        if self._series is None:
            # written alongside this module; imported by name so either can land first
            module = importlib.import_module("carbonledger.intensity.series_csv")
            series = module.load_series(self.path, basis=self.basis, zone=self.zone)
            if not isinstance(series, IntensitySeries):
                raise ProviderError(f"csv: {self.path.name} did not load as an intensity series")
            self._series = label_user_series(series)  # a user's numbers: not measured
        return self._series

    def _checked(self, zone: str) -> IntensitySeries:
        series = self.series
        if zone.strip() and series.zone and _norm(zone) != _norm(series.zone):
            raise UnknownZoneError(zone, [series.zone])
        return series

    def intensity(self, zone: str, at: float | None = None) -> IntensityValue:
        """The value in force at ``at`` (now when None)."""
        series = self._checked(zone)
        when = self._clock() if at is None else at
        i = series.index_at(when)
        if i is None:
            raise ProviderError(
                f"csv: {self.path.name} covers {series.start:.0f} to {series.end:.0f} (unix s), "
                f"not {when:.0f}"
            )
        return series.value_of(
            i, source=f"{series.source}@{format_utc(series.times[i], 'minutes')}"
        )

    def history(self, zone: str, start: float, end: float) -> IntensitySeries:
        """The steps of the file that overlap ``[start, end)``."""
        return self._checked(zone).slice(start, end)

    def forecast(self, zone: str, hours: float = 24) -> IntensitySeries:
        """The steps of the file from now to ``hours`` ahead (files may hold forecasts)."""
        series = self._checked(zone)
        now = self._clock()
        if series.end <= now:
            raise ProviderError(
                f"csv: {self.path.name} holds no values after now; it has no forecast"
            )
        return series.slice(now, now + hours * 3600.0)
