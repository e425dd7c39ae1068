"""Zones as each live provider names them: bundled zones and cloud regions mapped to
Electricity Maps zone keys, WattTime region codes and GB Carbon Intensity regions.

The table is ``data/provider_zones.csv`` (``zone, provider, provider_zone, source, note``);
its sources are in ``data/DATA_SOURCES.md`` and ``docs/methodology/providers.md``. A zone
may also be given in the provider's own words (``watttime:CAISO_NORTH``,
``electricitymaps:US-CAL-CISO``, ``ukgrid:13``) or as coordinates (``"48.85,2.35"``, for
the providers that take them). Nothing is guessed: a zone the table does not map is a
one-line :class:`~carbonledger.errors.ConfigError` that says what to pass instead.
"""

from __future__ import annotations

import csv
import functools
import re
from dataclasses import dataclass
from importlib import resources

from carbonledger.errors import ConfigError, UnknownZoneError

__all__ = [
    "LIVE_PROVIDERS",
    "ProviderZone",
    "bundled_zone_for",
    "check_run_zone",
    "provider_zone",
]

#: Providers whose zones the table maps, and whether each takes ``lat,lon``.
LIVE_PROVIDERS = {"electricitymaps": True, "watttime": True, "ukgrid": False}
_LATLON = re.compile(r"^\s*-?\d+(\.\d+)?\s*,\s*-?\d+(\.\d+)?\s*$")
_EXAMPLES = {
    "electricitymaps": "electricitymaps:US-CAL-CISO",
    "watttime": "watttime:CAISO_NORTH",
    "ukgrid": "ukgrid:13",
}


@dataclass(frozen=True)
class ProviderZone:
    """One row of the table: ``zone`` (a bundled key) is ``provider_zone`` at ``provider``."""

    zone: str
    provider: str
    provider_zone: str
    source: str
    note: str


@functools.cache
def _table() -> dict[tuple[str, str], ProviderZone]:
    text = resources.files("carbonledger.data").joinpath("provider_zones.csv").read_text("utf-8")
    rows: dict[tuple[str, str], ProviderZone] = {}
    for row in csv.DictReader(text.splitlines()):
        entry = ProviderZone(
            row["zone"], row["provider"], row["provider_zone"], row["source"], row["note"]
        )
        rows[(entry.zone.casefold(), entry.provider)] = entry
    return rows


def _provider_key(provider: str | None) -> str | None:
    if provider is None:
        return None
    return provider.strip().lower()


def _split_prefix(zone: str) -> tuple[str | None, str]:
    """(``provider``, rest) for ``provider:rest`` with a live provider's name, else (None, zone)."""
    head, sep, rest = zone.partition(":")
    if sep and head.strip().lower() in LIVE_PROVIDERS:
        return head.strip().lower(), rest.strip()
    return None, zone.strip()


def _bundled_key(zone: str) -> str:
    from carbonledger.intensity.zones import resolve_zone

    try:
        return resolve_zone(zone).key
    except UnknownZoneError:
        return zone.strip()


def lookup(zone: str, provider: str) -> ProviderZone | None:
    """The table's row for ``zone`` (any accepted spelling) at ``provider``, if any."""
    return _table().get((_bundled_key(zone).casefold(), provider))


def provider_zone(provider: str, zone: str) -> str:
    """What to ask ``provider`` for when the user said ``zone``.

    Provider-native (``watttime:CAISO_NORTH``) → the part after the prefix; coordinates →
    as given, for providers that take them; a bundled zone or cloud region → the table's
    zone. A provider the table does not cover gets ``zone`` unchanged (a plug-in or a
    test double). Raises ConfigError (one line) when there is no mapping.
    """
    key = _provider_key(provider) or ""
    named, rest = _split_prefix(zone)
    if named is not None:
        if named != key:
            raise ConfigError(
                f"zone {zone!r} is a {named} zone; it cannot be asked of provider {provider!r}"
            )
        if not rest:
            raise ConfigError(f"zone {zone!r} names no {named} zone")
        return rest
    if key not in LIVE_PROVIDERS:
        return zone.strip()
    if _LATLON.match(rest):
        if LIVE_PROVIDERS[key]:
            return rest.replace(" ", "")
        raise ConfigError(f"{key} does not take coordinates; pass a region, e.g. {_EXAMPLES[key]}")
    row = lookup(rest, key)
    if row is None:
        raise ConfigError(
            f"no {key} zone is known for {rest!r}; pass one directly (e.g. "
            f"--zone {_EXAMPLES[key]})" + (" or coordinates lat,lon" if LIVE_PROVIDERS[key] else "")
        )
    return row.provider_zone


def check_run_zone(zone: str, provider: str | None) -> None:
    """Refuse a run's zone that cannot be priced: without a live provider it must be a
    bundled zone; with one it must map to the provider's zones (ConfigError or
    UnknownZoneError, one line)."""
    from carbonledger.intensity.zones import resolve_zone

    key = _provider_key(provider)
    named, rest = _split_prefix(zone)
    if key is None or key not in LIVE_PROVIDERS:
        if named is not None:
            raise ConfigError(
                f"zone {zone!r} is a {named} zone: run with --provider {named} to use it"
            )
        if key is None or not _LATLON.match(rest):
            resolve_zone(zone)
        return
    provider_zone(key, zone)


def bundled_zone_for(zone: str | None) -> str | None:
    """The bundled zone that stands for ``zone`` in annual averages, or None.

    A bundled spelling is its key; a provider-native zone is the bundled zone the table
    maps to it when exactly one does (``watttime:CAISO_NORTH`` → ``aws:us-west-1``);
    coordinates and unknown zones give None (the caller uses the world default).
    """
    if zone is None:
        return None
    from carbonledger.intensity.zones import resolve_zone

    named, rest = _split_prefix(zone)
    if named is None:
        try:
            return resolve_zone(rest).key
        except UnknownZoneError:
            return None
    matches = sorted(
        {
            row.zone
            for row in _table().values()
            if row.provider == named and row.provider_zone.casefold() == rest.casefold()
        }
    )
    known = [m for m in matches if _resolves(m)]
    return known[0] if len(known) == 1 else None


def _resolves(zone: str) -> bool:
    from carbonledger.intensity.zones import resolve_zone

    try:
        resolve_zone(zone)
    except UnknownZoneError:
        return False
    return True
