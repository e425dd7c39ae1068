"""Intensity from a live provider during a tracked run, fetched off the hot path.

A daemon thread asks the provider for the current intensity every ``interval_s`` and
appends it to a plain CSV series beside the ledger; when the run ends, the provider's
history for the run's time span replaces those observations where it can. Each point
keeps its provenance: the signal and basis (one per series: a point of another signal or
basis is dropped, with a warning), its method (``modeled`` for WattTime's MOER, estimated
Electricity Maps hours and forecast-only GB half hours) and its relative uncertainty, so
the run is priced with the labels ``carbonledger intensity`` shows for the same value.
:meth:`LiveIntensityRecorder.recorded_series` gives the whole :class:`IntensitySeries`;
the CSV's ``.json`` sidecar holds it too (``series``), for re-pricing. The zone is asked
of the provider in its own words (:func:`~carbonledger.intensity.provider_zones.provider_zone`).
Provider failures are logged once and never reach the host.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from carbonledger.intensity.base import IntensityValue
from carbonledger.intensity.series import IntensitySeries, label_user_series

__all__ = ["LiveIntensityRecorder", "load_recorded_series", "series_path_for"]

log = logging.getLogger(__name__)


def series_path_for(ledger_path: Path, run_id: str) -> Path:
    """Where a run's recorded intensity series lives: ``<ledger dir>/series/<run_id>.csv``."""
    return ledger_path.parent / "series" / f"{run_id}.csv"


@dataclasses.dataclass(frozen=True)
class _Point:
    value_g_per_kwh: float
    method: str
    uncertainty_rel: float
    estimated: bool


def _strip_time(source: str) -> str:
    """``electricitymaps:DE@2024-06-01T12:00Z`` → ``electricitymaps:DE``."""
    return source.split("@", 1)[0]


def _iso(unix_s: float) -> str:
    from carbonledger.timeutil import iso_utc

    return iso_utc(unix_s) or ""


class LiveIntensityRecorder:
    """Records ``provider``'s intensity for ``zone`` into ``path`` while a run lasts."""

    def __init__(
        self,
        provider: Any,
        zone: str,
        path: Path,
        *,
        interval_s: float = 900.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        from carbonledger.intensity.provider_zones import provider_zone

        self.provider = provider
        self.zone = zone
        # may raise ConfigError: a zone without a mapping to this provider's zones
        self.provider_zone = provider_zone(str(getattr(provider, "name", "")), zone)
        self.path = path
        self.interval_s = interval_s
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._rows: dict[float, _Point] = {}
        self._step_s: float | None = None
        self._lock = threading.Lock()
        self.errors: list[str] = []
        self.signal: str | None = None
        self.basis: str | None = None
        self.source: str | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._loop, name="carbonledger-intensity", daemon=True
        )
        self._thread.start()

    def stop(self, started_at: float, ended_at: float) -> None:
        """Stop polling; replace observations with the provider's history where it has it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        try:
            history = self.provider.history(self.provider_zone, started_at, ended_at)
            with self._lock:
                if (history.signal, history.basis) != (self.signal, self.basis):
                    self._drop_all_observed(history.signal, history.basis)
                # the provider's history wins wherever it has data
                kept = {t: p for t, p in self._rows.items() if not history.start <= t < history.end}
                for i, t in enumerate(history.times):
                    method, rel = history.point_label(i)
                    estimated = bool(history.estimated[i]) if history.estimated else False
                    kept[float(t)] = _Point(
                        float(history.values_g_per_kwh[i]), method, rel, estimated
                    )
                self._rows = kept
                self._step_s = history.step_s
                self._describe(history.signal, history.basis, history.source)
        except Exception as exc:
            self._error(
                f"intensity history unavailable ({exc}); using the values observed during the run"
            )
        self._write()

    def _loop(self) -> None:
        while True:
            try:
                value = self.provider.intensity(self.provider_zone, None)
                self._observe(value)
                self._write()
            except Exception as exc:
                self._error(f"live intensity unavailable ({exc})")
            if self._stop.wait(self.interval_s):
                return

    def _observe(self, value: IntensityValue) -> None:
        at = value.at if value.at is not None else self._clock()
        method = str(value.method)
        rel = value.uncertainty_rel
        if rel is None:
            rel = 0.10 if method == "measured" else 0.20
        with self._lock:
            if self.signal is not None and (value.signal, value.basis) != (
                self.signal,
                self.basis,
            ):
                self._error(
                    f"live intensity changed from {self.signal}/{self.basis} to "
                    f"{value.signal}/{value.basis}; the new values are not mixed in"
                )
                return
            self._rows[float(at)] = _Point(
                float(value.g_per_kwh), method, float(rel), method != "measured"
            )
            self._describe(value.signal, value.basis, _strip_time(value.source))

    def _drop_all_observed(self, signal: str, basis: str) -> None:
        if self._rows:
            self._error(
                f"the provider's history is {signal}/{basis}, the values observed during "
                f"the run {self.signal}/{self.basis}: only the history is kept"
            )
        self._rows = {}

    def _describe(self, signal: str, basis: str, source: str) -> None:
        self.signal, self.basis, self.source = signal, basis, source

    def recorded_series(self) -> IntensitySeries | None:
        """What was recorded, with each point's method and uncertainty; None if nothing."""
        with self._lock:
            rows = sorted(self._rows.items())
            step_s = self._step_s
        if not rows or self.signal is None:
            return None
        return IntensitySeries(
            times=tuple(t for t, _ in rows),
            values_g_per_kwh=tuple(p.value_g_per_kwh for _, p in rows),
            zone=self.provider_zone,
            signal=self.signal,
            basis=self.basis or "unknown",
            source=self.source or str(getattr(self.provider, "name", "provider")),
            estimated=tuple(p.estimated for _, p in rows),
            last_step_s=step_s
            if step_s is not None
            else (None if len(rows) > 1 else self.interval_s),
            uncertainty_rel=max(p.uncertainty_rel for _, p in rows),
            methods=tuple(p.method for _, p in rows),
            uncertainties_rel=tuple(p.uncertainty_rel for _, p in rows),
        )

    def _error(self, message: str) -> None:
        if message not in self.errors:
            self.errors.append(message)
            log.warning("%s", message)

    def _write(self) -> None:
        with self._lock:
            rows = [(t, p.value_g_per_kwh) for t, p in sorted(self._rows.items())]
        if not rows:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(["datetime", "g_per_kwh"])
            for t, v in rows:
                writer.writerow([_iso(t), repr(v)])
        os.replace(tmp, self.path)
        series = self.recorded_series()
        if series is not None:
            meta = {
                "signal": self.signal,
                "basis": self.basis,
                "source": self.source,
                "zone": self.zone,
                "series": series.to_dict(),
            }
            tmp_meta = self.path.with_suffix(".json.tmp")
            tmp_meta.write_text(json.dumps(meta), encoding="utf-8")
            os.replace(tmp_meta, self.path.with_suffix(".json"))


def load_recorded_series(path: Path, zone: str | None) -> IntensitySeries:
    """A series written by the recorder with every point's labels restored; a user's CSV
    (no sidecar) labelled as a user-given intensity (:func:`label_user_series`)."""
    from carbonledger.errors import DataError
    from carbonledger.intensity.series_csv import load_series

    meta_path = path.with_suffix(".json")
    meta: dict[str, Any] | None = None
    if meta_path.is_file():
        try:
            loaded = json.loads(meta_path.read_text(encoding="utf-8"))
            meta = loaded if isinstance(loaded, dict) else None
        except (OSError, ValueError):
            meta = None
    if meta is not None and isinstance(meta.get("series"), dict):
        try:
            return IntensitySeries.from_dict(meta["series"])
        except DataError:
            pass  # fall back to the CSV
    series = load_series(path, zone=zone)
    if meta is None:
        return label_user_series(series)
    # a user's CSV copied beside the ledger, or a recording of an earlier version
    restored = dataclasses.replace(
        series,
        signal=str(meta.get("signal") or series.signal),
        basis=str(meta.get("basis") or series.basis),
        source=str(meta.get("source") or series.source),
    )
    return label_user_series(restored)
