"""Live grid-intensity providers: Electricity Maps, WattTime, the GB Carbon Intensity API,
and a CSV series behind the same interface.

:func:`open_provider` is the single entry point (``carbonledger intensity --provider NAME``)::

    provider = open_provider("electricitymaps", os.environ)
    provider.intensity("DE")                    # now
    provider.history("DE", start, end)          # IntensitySeries over [start, end)
    provider.forecast("DE", hours=24)

Nothing here imports httpx until the first request.
"""

from __future__ import annotations

from collections.abc import Mapping

from carbonledger.errors import ConfigError
from carbonledger.intensity.providers._base import IntensityProvider
from carbonledger.intensity.providers._http import (
    HttpSettings,
    ProviderHTTPError,
    ProviderZoneError,
    Secret,
)

__all__ = [
    "PROVIDER_NAMES",
    "HttpSettings",
    "IntensityProvider",
    "ProviderHTTPError",
    "ProviderZoneError",
    "Secret",
    "open_provider",
]

PROVIDER_NAMES = ("csv", "electricitymaps", "ukgrid", "watttime")


def open_provider(
    name: str, environ: Mapping[str, str], *, settings: HttpSettings | None = None
) -> IntensityProvider:
    """The provider called ``name``, configured from ``environ``.

    Names: ``electricitymaps`` (``CARBONLEDGER_ELECTRICITYMAPS_TOKEN``, ``_URL``, ``_BASIS``),
    ``watttime`` (``CARBONLEDGER_WATTTIME_USERNAME``, ``_PASSWORD``, ``_URL``), ``ukgrid``
    (``CARBONLEDGER_UKGRID_URL``), ``csv`` (``CARBONLEDGER_INTENSITY_SERIES``). HTTP
    timeouts, retries and cache come from ``CARBONLEDGER_PROVIDER_*`` unless ``settings``
    is given. Raises ConfigError for an unknown name or missing credentials.
    """
    key = name.strip().lower()
    if key == "electricitymaps":
        from carbonledger.intensity.providers.electricitymaps import ElectricityMapsProvider

        return ElectricityMapsProvider.from_environ(environ, settings=settings)
    if key == "watttime":
        from carbonledger.intensity.providers.watttime import WattTimeProvider

        return WattTimeProvider.from_environ(environ, settings=settings)
    if key == "ukgrid":
        from carbonledger.intensity.providers.ukgrid import UKGridProvider

        return UKGridProvider.from_environ(environ, settings=settings)
    if key == "csv":
        from carbonledger.intensity.providers.csvfile import CsvSeriesProvider

        return CsvSeriesProvider.from_environ(environ)
    return _plugin_provider(key, name, environ)


def _plugin_provider(key: str, name: str, environ: Mapping[str, str]) -> IntensityProvider:
    """A provider from a ``carbonledger.providers`` plug-in: a factory ``(environ) -> source``
    whose result has ``intensity(zone, at)`` (and, for runs, ``history``)."""
    from carbonledger import plugins

    found = {n: p for n, p in plugins.available("carbonledger.providers").items()}
    if key not in found:
        known = ", ".join([*PROVIDER_NAMES, *sorted(found)])
        raise ConfigError(f"unknown intensity provider {name!r}; known providers: {known}")
    factory = plugins.load("carbonledger.providers", key, check=plugins.callable_check)
    provider = factory(environ)
    if not callable(getattr(provider, "intensity", None)):
        raise ConfigError(f"intensity provider plug-in {key!r} has no intensity(zone, at) method")
    return provider  # type: ignore[no-any-return]
