"""The background sampler: reads every sensor on a drift-free cadence.

Each read turns the sensors' cumulative energies into one :class:`Sample` per device for
the interval since that device's previous good read, so time spent reading is never lost.
The first read happens in :meth:`Sampler.start`, so short runs are measured. A sensor that
raises is logged once and dropped; the others go on. Nothing here raises into the host, and
nothing blocks it for long: :meth:`Sampler.stop` returns within ``stop_timeout_s`` whatever
the sensors do (a read stuck in a driver is abandoned, its time recorded as a gap), and
:meth:`Sampler.read_now` never waits for the lock longer than that.

Lost time is recorded, not hidden. A device that gives no reading for ``gap_after_s``, a
counter step its sensor rejected as impossible (``Reading.lost``), a counter that went
backwards, a dropped sensor, and a device still missing at the last read each give a
:class:`Sample` with ``None`` energies over the missing time (an explicit gap, so pricing
states the total as a lower bound). An interval that may hide counter wraps
(``Reading.lower_bound``) is counted and flagged in :attr:`Sampler.errors`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from carbonledger.records import Component, DeviceInfo, Reading, Sample, Scope
from carbonledger.sensors.base import Sensor

if TYPE_CHECKING:
    from carbonledger.sampling.attribution import Shares

__all__ = ["GAP_AFTER_S", "STOP_TIMEOUT_S", "DeviceTotals", "Sampler"]

log = logging.getLogger(__name__)

# stop() returns within this many seconds whatever the sensors do (half for the thread to
# finish its read, half for the last read and closing the sensors).
STOP_TIMEOUT_S = 5.0
# A device without a reading for this long has its missing time recorded as a gap as it goes
# (a zone that vanished for good); shorter outages are bridged exactly by the counter.
GAP_AFTER_S = 10.0


@dataclass
class DeviceTotals:
    """Cumulative energy of one device since the sampler started."""

    host_energy_j: float = 0.0
    energy_j: float = 0.0
    last_t: float | None = None  # unix time of the last good read
    last_counter_j: float | None = None
    ok: bool = True  # False once its sensor was dropped
    missing: bool = False  # the latest read of this device failed
    gap_recorded: bool = False  # missing time up to last_t was recorded: re-base on return


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
        stop_timeout_s: float = STOP_TIMEOUT_S,
        gap_after_s: float = GAP_AFTER_S,
    ) -> None:
        self.interval_s = interval_s
        self.stop_timeout_s = stop_timeout_s
        self.gap_after_s = gap_after_s
        self._closed = False
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
    def start(self, *, first_read: bool = True) -> None:
        """Take the first read now (unless ``first_read`` is off: the caller took it with
        :meth:`read_now`), then sample in the background."""
        if first_read:
            self.read_now()
        self._thread = threading.Thread(target=self._loop, name="carbonledger-sampler", daemon=True)
        self._thread.start()

    def add_tick_listener(self, listener: Callable[[], None]) -> None:
        self._tick_listeners.append(listener)

    def read_now(self) -> dict[str, DeviceTotals]:
        """Read every sensor now; returns a copy of the cumulative totals.

        Never waits for the lock longer than ``stop_timeout_s``: when the sampler thread is
        stuck in a sensor read, the totals so far are returned.
        """
        if self._lock.acquire(timeout=self.stop_timeout_s):
            try:
                if not self._closed:
                    self._read_locked()
            finally:
                self._lock.release()
        else:
            self._record_error("a sensor read is stuck; span boundary taken from the last read")
        return self._copy_totals()

    def stop(self) -> None:
        """Stop the thread, take a last read, close the sensors. Safe to call twice.

        Returns within ``stop_timeout_s`` whatever the sensors do: a thread or a last read
        stuck in a sensor is abandoned (daemon threads), its devices marked lost from their
        last good read, so the tracker records the rest of the run as a gap.
        """
        self._stop.set()
        budget = self.stop_timeout_s / 2
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=budget)
        if self._closed:
            return
        done = threading.Event()

        def last_read() -> None:
            try:
                if not self._lock.acquire(timeout=budget):
                    return
                try:
                    if self._sensors and not self._closed:
                        self._read_locked(final=True)
                    self._close_sensors()
                    self._closed = True
                finally:
                    self._lock.release()
            except Exception as exc:
                self._record_error(f"last read failed: {exc!r}")
            finally:
                done.set()

        if threading.current_thread() is thread:  # stop() from a tick listener: no waiting
            last_read()
        else:
            threading.Thread(target=last_read, name="carbonledger-last-read", daemon=True).start()
            done.wait(budget + 0.1)
        if not self._closed:
            self._closed = True  # a stuck read that returns later records nothing
            self._record_error(
                f"a sensor read did not return within {self.stop_timeout_s:g} s; it was "
                "abandoned and the end of the run is recorded as a gap"
            )
            for totals in self.totals.values():
                totals.ok = False

    def _copy_totals(self) -> dict[str, DeviceTotals]:
        return {
            k: DeviceTotals(v.host_energy_j, v.energy_j, v.last_t) for k, v in self.totals.items()
        }

    def _close_sensors(self) -> None:
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
                    if self._stop.is_set() or self._closed:
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

    def _read_locked(self, *, final: bool = False) -> None:
        self.reads += 1
        shares = self._safe_shares()
        batch: list[Sample] = []
        for sensor in list(self._sensors):
            try:
                readings = sensor.read()
            except Exception as exc:
                batch.extend(self._drop(sensor, exc))
                continue
            t = self._clock()
            for reading in readings:
                sample = self._advance(reading, t, shares, final=final)
                if sample is not None:
                    batch.append(sample)
        if batch and self._on_samples is not None and not self._closed:
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

    def _gap(self, device_id: str, totals: DeviceTotals, t: float) -> Sample | None:
        """Record ``[last_t, t]`` as time without a reading; the next good read re-bases."""
        start = totals.last_t
        totals.last_t = t
        totals.gap_recorded = True
        if start is None or t <= start:
            return None
        return Sample(device_id, start, t, None, None)

    def _advance(
        self, reading: Reading, t: float, shares: Shares | None, *, final: bool = False
    ) -> Sample | None:
        device_id, counter_j = reading.device_id, reading.energy_j
        totals = self.totals.get(device_id)
        if totals is None:
            return None
        if reading.lost:
            self._record_error(
                f"{device_id}: a counter step was rejected as impossible; that interval is "
                "recorded as a gap and the energy is a lower bound"
            )
            sample = self._gap(device_id, totals, t)
            totals.gap_recorded = totals.missing = False  # the sensor re-based at this read
            if counter_j is not None:
                totals.last_counter_j = counter_j
            return sample
        if counter_j is None:
            totals.missing = True
            if totals.last_t is None:
                return None
            if final or t - totals.last_t >= self.gap_after_s:
                self._record_error(
                    f"{device_id}: no reading for more than {self.gap_after_s:g} s or at the "
                    "end of the run; the missing time is recorded as a gap and the energy "
                    "is a lower bound"
                )
                return self._gap(device_id, totals, t)
            return None
        if totals.last_counter_j is None or totals.last_t is None:
            totals.last_counter_j, totals.last_t = counter_j, t
            return None
        if totals.gap_recorded:
            # the counter's difference overlaps time already recorded as a gap: re-base
            sample = self._gap(device_id, totals, t)
            totals.last_counter_j, totals.missing, totals.gap_recorded = counter_j, False, False
            return sample
        totals.missing = False
        delta_j = counter_j - totals.last_counter_j
        if delta_j < 0:
            self._record_error(
                f"{device_id}: cumulative energy went backwards; that interval is recorded as "
                "a gap and the energy is a lower bound"
            )
            sample = self._gap(device_id, totals, t)
            totals.last_counter_j, totals.gap_recorded = counter_j, False
            return sample
        if reading.lower_bound:
            self._record_error(
                f"{device_id}: an interval was longer than the counter's shortest wrap period "
                "(a stall or a suspended process); wraps may have been missed and the energy "
                "is a lower bound"
            )
        share = self._share_for(device_id, reading.process_share, shares)
        attributed = None if share is None else delta_j * share
        sample = Sample(device_id, totals.last_t, t, delta_j, attributed)
        totals.host_energy_j += delta_j
        if attributed is not None:
            totals.energy_j += attributed
        totals.last_counter_j, totals.last_t = counter_j, t
        return sample

    def _drop(self, sensor: Sensor, exc: BaseException) -> list[Sample]:
        self._record_error(f"sensor {sensor.kind} failed and was dropped: {exc!r}")
        self._sensors.remove(sensor)
        t = self._clock()
        gaps = []
        for device in sensor.devices():
            totals = self.totals[device.device_id]
            totals.ok = False
            gap = self._gap(device.device_id, totals, t)  # the tracker records the rest at stop
            if gap is not None:
                gaps.append(gap)
        with contextlib.suppress(Exception):
            sensor.close()
        return gaps
