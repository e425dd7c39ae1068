"""One measurer per device among the processes of a job on one node.

The tracker asks a :class:`JobCoordinator` which sensors to open: it wraps each in a
:class:`GatedSensor` that reads each device only while this process holds the host-local
lock of that device (:mod:`carbonledger.distributed.lock`). The rest of the time it reports
no reading, so the sampler records nothing for those devices, and spans record their
energy as unknown (filled in from the measurer's samples when the job is priced).

Election: the process with the lowest local rank (or none given: ``carbonledger run``
wrapping a launcher) tries the lock at its first read; the others first try one sampling
interval later, then on every sampling tick. So when the ranks start within one interval
of each other, local rank 0 measures; in every case the lock lets exactly one process
measure each device. When the measurer stops or dies, the lock is free and the next
standby to retry takes over from that moment (its first read is a baseline), so the gap
between the two shows as time nobody measured: the job footprint reports it. A standby
that is itself stopping does not take over (:meth:`JobCoordinator.stopping`): its last
reading would be a baseline with nothing after it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from carbonledger.distributed.identity import Detected, detect_job
from carbonledger.distributed.lock import DeviceLock, lock_dir, lock_name
from carbonledger.events import BaseSink, RunStarted, RunStopping
from carbonledger.records import DeviceInfo, JobInfo, Reading
from carbonledger.sensors.base import Sensor

__all__ = ["GatedSensor", "JobCoordinator", "job_coordinator"]

log = logging.getLogger(__name__)

Keep = Callable[..., bool]


class GatedSensor:
    """A sensor that reads each of its devices only while its process holds that
    device's lock: processes whose sensors see overlapping sets of devices (different
    ``CUDA_VISIBLE_DEVICES`` per rank) still measure each device once."""

    def __init__(
        self,
        inner: Sensor,
        locks: Mapping[str, DeviceLock],
        *,
        first_try_s: float,
        retry_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kind = inner.kind
        self.inner = inner
        self.locks = dict(locks)
        self._clock = clock
        self._next_try = clock() + first_try_s
        self._retry_s = retry_s
        # device id -> unix time this process began measuring it (None: not yet)
        self.since: dict[str, float | None] = dict.fromkeys(self.locks)
        self.tries = 0

    def devices(self) -> Sequence[DeviceInfo]:
        return self.inner.devices()

    @property
    def measuring(self) -> bool:
        return any(lock.held for lock in self.locks.values())

    def stand_down(self) -> None:
        """Take over no more: the run is stopping, so a reading now would be a baseline
        with nothing after it (it keeps measuring what it already does)."""
        self._next_try = float("inf")

    def _try(self) -> None:
        now = self._clock()
        if now < self._next_try:
            return
        self._next_try = now + self._retry_s
        self.tries += 1
        for device_id, lock in self.locks.items():
            if lock.held:
                continue
            try:
                taken = lock.try_acquire()
            except OSError as exc:
                log.warning("carbonledger: measurer lock %s unusable: %s", lock.path, exc)
                self._next_try = float("inf")
                return
            if taken:
                self.since[device_id] = time.time()

    def read(self) -> list[Reading]:
        if not all(lock.held for lock in self.locks.values()):
            self._try()
        held = {d for d, lock in self.locks.items() if lock.held}
        if not held:
            return [Reading(d.device_id, None) for d in self.inner.devices()]
        readings = self.inner.read()
        if len(held) == len(self.locks):
            return readings
        return [r if r.device_id in held else Reading(r.device_id, None) for r in readings]

    def close(self) -> None:
        try:
            self.inner.close()
        finally:
            for lock in self.locks.values():
                lock.release()


class JobCoordinator:
    """The job this process belongs to, and which of its sensors it measures."""

    def __init__(
        self,
        detected: Detected,
        *,
        interval_s: float,
        environ: Mapping[str, str],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.detected = detected
        self.interval_s = max(0.05, float(interval_s))
        self._environ = environ
        self._clock = clock
        self.gated: list[GatedSensor] = []
        self.problem: str | None = None
        self.created_at = time.time()

    @property
    def job(self) -> JobInfo:
        return self.detected.job

    @property
    def first(self) -> bool:
        """Whether this process is first in line (the lowest local rank, or none given)."""
        return self.job.local_rank is None or self.job.local_rank <= 0

    def gate(self, sensors: Sequence[Sensor]) -> list[Sensor]:
        """The sensors to hand the sampler: each gated by its devices' lock. If no lock
        folder can be used, every sensor measures (and the job says so)."""
        try:
            folder = lock_dir(self._environ)
        except (OSError, Exception) as exc:
            self.problem = (
                f"job {self.job.key}: no measurer lock ({exc}); this process measures its "
                "devices itself, and other processes of the job on this node may too"
            )
            return list(sensors)
        out: list[Sensor] = []
        for sensor in sensors:
            locks = {
                d.device_id: DeviceLock(
                    folder / lock_name(self.job.key, self.job.node, [d.device_id])
                )
                for d in sensor.devices()
            }
            gated = GatedSensor(
                sensor,
                locks,
                first_try_s=0.0 if self.first else max(self.interval_s, 1.0),
                retry_s=self.interval_s,
                clock=self._clock,
            )
            self.gated.append(gated)
            out.append(gated)
        return out

    def stopping(self) -> None:
        """The run is about to take its last reading: a standby does not take over now."""
        for gated in self.gated:
            gated.stand_down()

    def measured(self) -> dict[str, float | None]:
        """device id -> unix time this process began measuring it (None: it never did)."""
        return {d: since for g in self.gated for d, since in g.since.items()}

    def attachment(self) -> dict[str, Any]:
        return {**self.detected.attachment(), "measured_since": self.measured()}

    def sink(self, keep: Keep, note: Callable[[str], None]) -> BaseSink:
        """The run-event consumer that keeps the ``job`` attachment with the run."""
        return _JobSink(self, keep, note)


class _JobSink(BaseSink):
    def __init__(self, coordinator: JobCoordinator, keep: Keep, note: Callable[[str], None]):
        self.coordinator = coordinator
        self.keep = keep
        self.note = note

    def on_start(self, event: RunStarted) -> None:
        c = self.coordinator
        if c.problem:
            self.note(c.problem)
        self.keep("put_attachment", event.run_id, "job", c.attachment())

    def on_stopping(self, event: RunStopping) -> None:
        c = self.coordinator
        measured = c.measured()
        standby = sorted(d for d, since in measured.items() if since is None)
        late = c.created_at + max(c.interval_s, 1.0) / 2
        taken = sorted(d for d, since in measured.items() if since is not None and since > late)
        if standby:
            self.note(
                f"job {c.job.key}: another process of the job on {c.job.node} measured "
                f"{', '.join(standby)}; this run's own figures leave them out, and the job "
                "footprint (carbonledger job) counts them once"
            )
        if taken:
            self.note(
                f"job {c.job.key}: this process took over measuring {', '.join(taken)} "
                "during the run (the previous measurer stopped, or none was measuring); "
                "its own energy covers them from then on, while its embodied emissions "
                "count them for the whole run (an upper bound: carbonledger job counts "
                "each device once)"
            )
        self.keep("put_attachment", event.run_id, "job", c.attachment())


def job_coordinator(
    explicit: str | None,
    *,
    interval_s: float,
    environ: Mapping[str, str],
) -> JobCoordinator | None:
    """The coordinator of this process's job, or None when it runs in no job."""
    detected = detect_job(environ, explicit)
    if detected is None:
        return None
    return JobCoordinator(detected, interval_s=interval_s, environ=environ)
