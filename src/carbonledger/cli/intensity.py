"""``carbonledger intensity ZONE``: the grid carbon intensity of a zone, and where it comes from.

    carbonledger intensity FR                          bundled annual average (offline)
    carbonledger intensity azure:francecentral --json
    carbonledger intensity DE --series DE_2023.csv --at 2023-06-01T12:00Z
    carbonledger intensity DE --provider electricitymaps --at 2024-03-01T10:00Z

Providers: ``bundled`` (default), ``csv`` (needs ``--series`` and ``--at``), and any live
provider that :func:`carbonledger.intensity.providers.open_provider` knows.
"""

from __future__ import annotations

import argparse
import logging
import os
from datetime import datetime, timezone
from typing import Any

from carbonledger.cli.common import print_json
from carbonledger.errors import ConfigError, DataError, UnknownZoneError
from carbonledger.intensity.base import IntensityValue
from carbonledger.intensity.zones import ZoneInfo, resolve_zone

__all__ = ["handle", "register"]

log = logging.getLogger(__name__)

BUILT_IN = ("bundled", "csv")


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "intensity",
        help="grid carbon intensity of a zone (offline by default)",
        description="Grid carbon intensity of ZONE: a country (FR, FRA, France), a US state "
        "(US-CA), a cloud region (aws:us-east-1, gcp:europe-west1, azure:francecentral) or "
        "WORLD. Offline unless a live provider is named.",
    )
    p.add_argument("zone", metavar="ZONE", help="zone, in any accepted spelling")
    p.add_argument(
        "--at", metavar="TIME", help="ISO 8601 time (no offset means UTC); required for --series"
    )
    p.add_argument(
        "--provider",
        metavar="NAME",
        help="bundled (default), csv, or a live provider such as electricitymaps",
    )
    p.add_argument("--series", metavar="FILE", help="answer from a CSV intensity series")
    p.add_argument(
        "--basis",
        choices=("lifecycle", "direct"),
        help="which series column to read (Electricity Maps exports have both); default lifecycle",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    provider = (args.provider or ("csv" if args.series else "bundled")).strip().lower()
    at = _parse_at(args.at)
    info: ZoneInfo | None
    if provider == "bundled":
        if args.series:
            raise ConfigError("--series answers with provider csv, not bundled")
        info = resolve_zone(args.zone)
        value = _bundled(info, args.basis)
    elif provider == "csv":
        value, info = _from_series(args, at)
    else:
        if args.series:
            raise ConfigError(f"--series answers with provider csv, not {provider}")
        value, info = _live(provider, args.zone, at)
    _print(value, info, args.zone, as_json=args.json)
    return 0


def _parse_at(text: str | None) -> float | None:
    if text is None:
        return None
    if text.strip().lower() == "now":
        return datetime.now(timezone.utc).timestamp()
    from carbonledger.intensity.series_csv import parse_time

    try:
        return parse_time(text)
    except ValueError:
        raise ConfigError(f"--at: {text!r} is not an ISO 8601 time") from None


def _bundled(info: ZoneInfo, basis: str | None) -> IntensityValue:
    from carbonledger.intensity.bundled import bundled_intensity

    value = bundled_intensity(info.key)
    if basis is not None and basis != value.basis:
        log.warning(
            "the bundled value for %s is %s; --basis only selects a series column",
            info.key,
            value.basis,
        )
    return value


def _from_series(
    args: argparse.Namespace, at: float | None
) -> tuple[IntensityValue, ZoneInfo | None]:
    from carbonledger.intensity.series_csv import load_series

    path = args.series or os.environ.get("CARBONLEDGER_INTENSITY_SERIES", "").strip()
    if not path:
        raise ConfigError("provider csv needs --series FILE (or CARBONLEDGER_INTENSITY_SERIES)")
    if at is None:
        raise ConfigError("--series needs --at TIME (ISO 8601)")
    from carbonledger.intensity.series import label_user_series

    series = label_user_series(load_series(path, basis=args.basis or "lifecycle", zone=None))
    info = _same_zone(args.zone, series.zone, path)
    return series.intensity(series.zone, at), info


def _same_zone(asked: str, held: str, path: str) -> ZoneInfo | None:
    """The zone's info when ``asked`` and the series' zone are the same place, else DataError."""
    if asked.strip().casefold() == held.casefold():
        try:
            return resolve_zone(held)
        except UnknownZoneError:
            return None  # a zone the table does not know (an Electricity Maps sub-zone)
    try:
        info = resolve_zone(asked)
        if resolve_zone(held).key == info.key:
            return info
    except UnknownZoneError:
        pass
    raise DataError(f"{path} holds zone {held!r}, not {asked!r}")


def _live(provider: str, zone: str, at: float | None) -> tuple[IntensityValue, ZoneInfo | None]:
    try:
        from carbonledger.intensity import providers
    except ImportError:
        providers = None  # type: ignore[assignment]
    open_provider = getattr(providers, "open_provider", None)
    if open_provider is None:
        raise ConfigError(
            f"unknown provider {provider!r}: no live providers are installed "
            f"(built in: {', '.join(BUILT_IN)})"
        )
    try:
        info: ZoneInfo | None = resolve_zone(zone)
    except UnknownZoneError:
        info = None  # the provider may know zones the bundled table does not
    source = open_provider(provider, dict(os.environ))
    value: IntensityValue = source.intensity(info.key if info else zone.strip(), at)
    return value, info


def _print(value: IntensityValue, info: ZoneInfo | None, asked: str, *, as_json: bool) -> None:
    if as_json:
        data = value.to_dict()
        data["at"] = _iso(value.at) if value.at is not None else None
        data["zone_name"] = info.name if info else None
        data["kind"] = info.kind if info else None
        print_json(data)
        return
    year = f"year {value.year}" if value.year is not None else "year unknown"
    when = f"at {_iso(value.at)}" if value.at is not None else year
    unc = f"±{value.uncertainty_rel:.0%}" if value.uncertainty_rel is not None else "±?"
    name = "" if info is None else f" ({info.name})" if info.kind != "cloud" else f" — {info.name}"
    print(
        f"{value.g_per_kwh:g} gCO2e/kWh {unc}  {value.zone}{name}  {when}  "
        f"{value.signal}/{value.basis}  {value.method}  source: {value.source}"
    )


def _iso(at: float) -> str:
    from carbonledger.timeutil import format_instant

    return format_instant(at, seconds=True)
