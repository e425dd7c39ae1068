"""What a tracker checks and prepares before a run starts, so that a run it records can
always be priced: settings it cannot use are refused up front (``ConfigError``,
``DataError``), before the host program has done any work."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from carbonledger.config import Settings
from carbonledger.errors import ConfigError

if TYPE_CHECKING:
    from carbonledger.intensity.live import LiveIntensityRecorder
    from carbonledger.intensity.series import IntensitySeries

__all__ = [
    "default_run_name",
    "open_recorder",
    "snapshot_series",
    "validate",
    "warn_default_zone_once",
]

log = logging.getLogger("carbonledger.tracking")

_warned_default_zone = False


def warn_default_zone_once() -> None:
    """One warning per process that the world average prices runs without a zone."""
    global _warned_default_zone
    if not _warned_default_zone:
        _warned_default_zone = True
        log.warning(
            "no zone set: carbon uses the world average intensity (labelled 'default'); "
            "set one with zone=..., --zone or CARBONLEDGER_ZONE (e.g. FR, US-CA, aws:us-east-1)"
        )


def default_run_name() -> str:
    argv0 = Path(sys.argv[0]).stem if sys.argv and sys.argv[0] else ""
    return argv0 or "run"


def validate(
    settings: Settings, embodied_preset: str | None, *, provider_object: bool = False
) -> tuple[Settings, IntensitySeries | None]:
    """Refuse what would make a run impossible to price: an unknown zone, sensor kind or
    embodied preset, an unreadable intensity series. Returns the settings with the series
    path made absolute, and the series itself (None without one).

    With a provider object (``provider_object``) the zone is the provider's to judge: a
    third-party provider may name zones no bundled table knows."""
    if settings.zone is not None and not provider_object:
        from carbonledger.intensity.provider_zones import check_run_zone

        check_run_zone(settings.zone, settings.provider)
    if settings.sensors is not None:
        from carbonledger.sensors.registry import registered

        known = {e.kind for e in registered()}
        unknown = [k for k in settings.sensors if k not in known]
        if unknown:
            raise ConfigError(
                f"unknown sensor kind(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
    if embodied_preset is not None:
        from carbonledger.lifecycle.hardware import preset

        preset(embodied_preset)
    if settings.intensity_series is None:
        return settings, None
    from carbonledger.intensity.series import label_user_series
    from carbonledger.intensity.series_csv import load_series

    path = settings.intensity_series.resolve()
    series = label_user_series(load_series(path, zone=settings.zone))
    return settings.replace(intensity_series=str(path)), series


def snapshot_series(
    settings: Settings, run_id: str, source_label: str | None, warn: Callable[[str], None]
) -> Path | None:
    """A copy of the run's CSV series beside the ledger, for ledgers that cannot keep the
    series themselves, so that later edits of the file cannot change how the stored run is
    priced (the original path when copying fails)."""
    source = settings.intensity_series
    if source is None:
        return None
    from carbonledger.intensity.live import series_path_for

    target = series_path_for(settings.ledger_path, run_id)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes())
        meta = {"source": source_label, "copied_from": str(source)}
        target.with_suffix(".json").write_text(json.dumps(meta), encoding="utf-8")
        return target
    except OSError as exc:
        warn(f"cannot keep a copy of {source} ({exc}); the run refers to the file itself")
        return source


def open_recorder(settings: Settings, provider: Any, run_id: str) -> LiveIntensityRecorder | None:
    """A recorder of the live provider's intensity for this run (``provider`` an object, or
    None to use ``settings.provider`` by name), or None without a provider or zone."""
    if provider is None and settings.provider is not None:
        from carbonledger.intensity.providers import open_provider

        provider = open_provider(settings.provider, os.environ)
    if provider is None or settings.zone is None:
        return None
    from carbonledger.intensity.live import LiveIntensityRecorder, series_path_for

    ledger_file = settings.ledger_file
    if ledger_file is not None:
        path = series_path_for(ledger_file, run_id)
    else:  # a ledger that is not a file keeps the series itself; this is a scratch copy
        import tempfile

        path = Path(tempfile.mkdtemp(prefix="carbonledger-series-")) / f"{run_id}.csv"
    return LiveIntensityRecorder(
        provider,
        settings.zone,
        path,
        interval_s=settings.provider_interval_s,
    )
