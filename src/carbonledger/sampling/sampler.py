"""The background sampler: reads every sensor on a drift-free cadence.

Each read turns the sensors' cumulative energies into one :class:`Sample` per device for
the interval since that device's previous good read, so time spent reading is never lost.
The first read happens in :meth:`Sampler.start`, so short runs are measured. A sensor that
raises is logged once and dropped; the others go on. Nothing here raises into the host.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from carbonledger.records import Component, DeviceInfo, Sample, Scope
from carbonledger.sensors.base import Sensor

if TYPE_CHECKING:
    from carbonledger.sampling.attribution import Shares

__all__ = ["DeviceTotals", "Sampler"]

log = logging.getLogger(__name__)


@dataclass
class DeviceTotals:
    """Cumulative energy of one device since the sampler started."""

    host_energy_j: float = 0.0
    energy_j: float = 0.0
    last_t: float | None = None  # unix time of the last good read
    last_counter_j: float | None = None
    ok: bool = True  # False once its sensor was dropped


class Sampler:
    """Samples ``sensors`` every ``interval_s`` in a daemon thread.

    ``shares`` gives the tracked tree's shares for scope ``process`` (called once per
    read); ``on_samples`` receives each batch of samples (the tracker buffers and flushes
    them); ``on_tick`` listeners run after each periodic read (budgets).
    """

    def __init__(
        self,
        sensors: Sequence[Sensor],
        *,
        interval_s: float,
        scope: Scope = Scope.MACHINE,
        shares: Callable[[], Shares] | None = None,
        on_samples: Callable[[list[Sample]], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.interval_s = interval_s
        self.scope = scope
        self._sensors = list(sensors)
        self._shares = shares
        self._on_samples = on_samples
        self._clock = clock
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._tick_listeners: list[Callable[[], None]] = []
        self.devices: list[DeviceInfo] = [d for s in self._sensors for d in s.devices()]
        self._component = {d.device_id: d.component for d in self.devices}
        self._sensor_of = {d.device_id: s for s in self._sensors for d in s.devices()}
        self.totals: dict[str, DeviceTotals] = {d.device_id: DeviceTotals() for d in self.devices}
        self.errors: list[str] = []
        self.reads = 0

    # -- public -------------------------------------------------------------------
    def start(self) -> None:
        """Take the first read now, then sample in the background."""
        self.read_now()
        self._thread = threading.Thread(target=self._loop, name="carbonledger-sampler", daemon=True)
        self._thread.start()

    def add_tick_listener(self, listener: Callable[[], None]) -> None:
        self._tick_listeners.append(listener)

    def read_now(self) -> dict[str, DeviceTotals]:
        """Read every sensor now; returns a copy of the cumulative totals."""
        with self._lock:
            self._read_locked()
            return {
                k: DeviceTotals(v.host_energy_j, v.energy_j, v.last_t)
                for k, v in self.totals.items()
            }

    def stop(self) -> None:
        """Stop the thread, take a last read, close the sensors. Safe to call twice."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=max(5.0, 3 * self.interval_s))
        with self._lock:
            if self._sensors:
                self._read_locked()
            for sensor in self._sensors:
                try:
                    sensor.close()
                except Exception as exc:
                    log.debug("closing sensor %s failed: %s", sensor.kind, exc)
            self._sensors = []

    # -- internals ----------------------------------------------------------------
    def _loop(self) -> None:
        start = self._clock()
        tick = 0
        while True:
            tick += 1
            # drift-free: aim at start + k*interval; skip ticks missed while busy
            now = self._clock()
            behind = int((now - start) / self.interval_s)
            if behind >= tick:
                tick = behind + 1
            if self._stop.wait(max(0.0, start + tick * self.interval_s - now)):
                return
            try:
                with self._lock:
                    if self._stop.is_set():
                        return
                    self._read_locked()
                for listener in list(self._tick_listeners):
                    listener()
            except Exception as exc:
                self._record_error(f"sampler tick failed: {exc!r}")

    def _record_error(self, message: str) -> None:
        if message not in self.errors:
            self.errors.append(message)
            log.warning("%s", message)

    def _read_locked(self) -> None:
        self.reads += 1
        shares = self._safe_shares()
        batch: list[Sample] = []
        for sensor in list(self._sensors):
            try:
                readings = sensor.read()
            except Exception as exc:
                self._drop(sensor, exc)
                continue
            t = self._clock()
            for reading in readings:
                sample = self._advance(
                    reading.device_id, t, reading.energy_j, reading.process_share, shares
                )
                if sample is not None:
                    batch.append(sample)
        if batch and self._on_samples is not None:
            self._on_samples(batch)

    def _safe_shares(self) -> Shares | None:
        if self.scope is not Scope.PROCESS or self._shares is None:
            return None
        try:
            return self._shares()
        except Exception as exc:
            self._record_error(f"process attribution failed: {exc!r}")
            return None

    def _share_for(
        self, device_id: str, process_share: float | None, shares: Shares | None
    ) -> float | None:
        if self.scope is Scope.MACHINE:
            return 1.0
        if process_share is not None:
            return min(1.0, max(0.0, process_share))
        component = self._component.get(device_id)
        if shares is None:
            return None
        if component is Component.CPU:
            return shares.cpu
        if component is Component.RAM:
            return shares.ram
        # a GPU whose sensor cannot tell: the run holds the device
        return 1.0

    def _advance(
        self,
        device_id: str,
        t: float,
        counter_j: float | None,
        process_share: float | None,
        shares: Shares | None,
    ) -> Sample | None:
        totals = self.totals.get(device_id)
        if totals is None or counter_j is None:
            return None
        if totals.last_counter_j is None or totals.last_t is None:
            totals.last_counter_j, totals.last_t = counter_j, t
            return None
        delta_j = counter_j - totals.last_counter_j
        if delta_j < 0:
            self._record_error(f"{device_id}: cumulative energy went backwards; interval skipped")
            totals.last_counter_j, totals.last_t = counter_j, t
            return None
        share = self._share_for(device_id, process_share, shares)
        attributed = None if share is None else delta_j * share
        sample = Sample(device_id, totals.last_t, t, delta_j, attributed)
        totals.host_energy_j += delta_j
        if attributed is not None:
            totals.energy_j += attributed
        totals.last_counter_j, totals.last_t = counter_j, t
        return sample

    def _drop(self, sensor: Sensor, exc: BaseException) -> None:
        self._record_error(f"sensor {sensor.kind} failed and was dropped: {exc!r}")
        self._sensors.remove(sensor)
        for device in sensor.devices():
            self.totals[device.device_id].ok = False
        with contextlib.suppress(Exception):
            sensor.close()
