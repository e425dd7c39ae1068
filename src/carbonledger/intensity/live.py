"""Intensity from a live provider during a tracked run, fetched off the hot path.

A daemon thread asks the provider for the current intensity every ``interval_s`` and
appends it to a plain CSV series beside the ledger; when the run ends, the provider's
history for the run's time span replaces those observations where it can. The run's
settings name the file and the signal, so the run is priced, and later re-priced,
time-aligned from it. Provider failures are logged once and never reach the host.
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
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from carbonledger.intensity.series import IntensitySeries

__all__ = ["LiveIntensityRecorder", "load_recorded_series", "series_path_for"]

log = logging.getLogger(__name__)


def series_path_for(ledger_path: Path, run_id: str) -> Path:
    """Where a run's recorded intensity series lives: ``<ledger dir>/series/<run_id>.csv``."""
    return ledger_path.parent / "series" / f"{run_id}.csv"


def _iso(unix_s: float) -> str:
    return datetime.fromtimestamp(unix_s, tz=timezone.utc).isoformat().replace("+00:00", "Z")


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
        self.provider = provider
        self.zone = zone
        self.path = path
        self.interval_s = interval_s
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._rows: dict[float, float] = {}
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
            history = self.provider.history(self.zone, started_at, ended_at)
            with self._lock:
                # the provider's history wins wherever it has data
                kept = {t: v for t, v in self._rows.items() if not history.start <= t < history.end}
                kept.update(
                    (float(t), float(v))
                    for t, v in zip(history.times, history.values_g_per_kwh, strict=True)
                )
                self._rows = kept
                self._describe(history.signal, history.basis, history.source)
        except Exception as exc:
            self._error(
                f"intensity history unavailable ({exc}); using the values observed during the run"
            )
        self._write()

    def _loop(self) -> None:
        while True:
            try:
                value = self.provider.intensity(self.zone, None)
                at = value.at if value.at is not None else self._clock()
                with self._lock:
                    self._rows[float(at)] = float(value.g_per_kwh)
                    self._describe(value.signal, value.basis, value.source)
                self._write()
            except Exception as exc:
                self._error(f"live intensity unavailable ({exc})")
            if self._stop.wait(self.interval_s):
                return

    def _describe(self, signal: str, basis: str, source: str) -> None:
        self.signal, self.basis, self.source = signal, basis, source

    def _error(self, message: str) -> None:
        if message not in self.errors:
            self.errors.append(message)
            log.warning("%s", message)

    def _write(self) -> None:
        with self._lock:
            rows = sorted(self._rows.items())
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
        if self.signal is not None:
            meta = {
                "signal": self.signal,
                "basis": self.basis,
                "source": self.source,
                "zone": self.zone,
            }
            self.path.with_suffix(".json").write_text(json.dumps(meta), encoding="utf-8")


def load_recorded_series(path: Path, zone: str | None) -> IntensitySeries:
    """A series written by the recorder, with its signal, basis and source restored."""
    from carbonledger.intensity.series_csv import load_series

    series = load_series(path, zone=zone)
    meta_path = path.with_suffix(".json")
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return series
        series = dataclasses.replace(
            series,
            signal=str(meta.get("signal") or series.signal),
            basis=str(meta.get("basis") or series.basis),
            source=str(meta.get("source") or series.source),
        )
    return series
