"""What the live exporters show: cumulative totals per run and per device, kept from run
events by one sink (:class:`LiveTotals`) and read at scrape or collection time.

* Attributed energy per run and device is the sum of the run's samples (``energy_j``).
* What a device's sensor saw (``host_energy_j``) is kept per device, not per run: runs that
  overlap on one host see the same device, so a sample is counted only for the part of
  its interval no earlier sample of that device covered.
* Emissions so far are priced sample by sample through the run's pricing plan at its
  zone's average intensity (a run priced time-aligned gets its time-aligned figure in the
  final footprint), with embodied emissions accruing linearly in time, as budgets do.
* At most ``max_runs`` runs are kept; the oldest ended run goes first.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from carbonledger.events import BaseSink, RunEnded, RunStarted, RunStopping
from carbonledger.records import DeviceInfo, Sample

if TYPE_CHECKING:
    from carbonledger.lifecycle.footprint import Footprint
    from carbonledger.lifecycle.plan import PricingPlan

__all__ = ["DEFAULT_MAX_RUNS", "DeviceView", "LiveTotals", "RunView", "Snapshot"]

log = logging.getLogger(__name__)

DEFAULT_MAX_RUNS = 20


@dataclass(frozen=True)
class RunView:
    """One run as an exporter shows it. ``None``: unknown (never 0 for missing)."""

    run_id: str
    name: str
    phase: str
    zone: str | None
    scope: str
    status: str
    started_at: float
    energy_j: Mapping[str, float]  # device_id -> attributed joules, devices with data
    operational_g: float | None
    embodied_g: float | None
    footprint: Footprint | None


@dataclass(frozen=True)
class DeviceView:
    """One device and the energy its sensor saw while any run was measuring it (None
    before its first good read)."""

    device_id: str
    component: str
    name: str
    method: str
    host_energy_j: float | None


@dataclass(frozen=True)
class Snapshot:
    runs: tuple[RunView, ...]
    devices: tuple[DeviceView, ...]
    host_id: str | None
    host_name: str | None

    @property
    def host_energy_j(self) -> float | None:
        """The devices' energy together (they do not overlap: RAPL package and DRAM, GPUs);
        None before any device reported."""
        known = [d.host_energy_j for d in self.devices if d.host_energy_j is not None]
        return sum(known) if known else None


@dataclass
class _Run:
    record_run_id: str
    name: str
    phase: str
    zone: str | None
    scope: str
    status: str
    started_at: float
    plan: PricingPlan | None
    embodied_g_per_s: float | None
    energy_j: dict[str, float] = field(default_factory=dict)
    operational_g: float | None = None
    embodied_g: float | None = None
    footprint: Footprint | None = None
    ended: bool = False

    def view(self) -> RunView:
        return RunView(
            run_id=self.record_run_id,
            name=self.name,
            phase=self.phase,
            zone=self.zone,
            scope=self.scope,
            status=self.status,
            started_at=self.started_at,
            energy_j=dict(self.energy_j),
            operational_g=self.operational_g,
            embodied_g=self.embodied_g,
            footprint=self.footprint,
        )


@dataclass
class _Device:
    info: DeviceInfo
    host_energy_j: float = 0.0
    covered_until: float | None = None


def _plan_of(event: RunStarted) -> tuple[PricingPlan | None, float | None]:
    record = event.record
    try:
        from carbonledger.lifecycle.plan import plan_for

        plan = plan_for(record.zone, record.pue, embodied_preset=record.embodied, host=record.host)
    except Exception as exc:
        log.warning("live emissions of run %s are unknown: %s", record.run_id, exc)
        return None, None
    return plan, plan.embodied_g_per_s(event.devices)


class LiveTotals(BaseSink):
    """A sink keeping what the live exporters show; :meth:`snapshot` reads it (any thread)."""

    name = "live-totals"

    def __init__(self, *, max_runs: int = DEFAULT_MAX_RUNS) -> None:
        if max_runs < 1:
            raise ValueError(f"max_runs must be at least 1, got {max_runs}")
        self.max_runs = max_runs
        self._lock = threading.Lock()
        self._runs: OrderedDict[str, _Run] = OrderedDict()
        self._devices: dict[str, _Device] = {}
        self._host_id: str | None = None
        self._host_name: str | None = None

    # -- events ------------------------------------------------------------------------
    def on_start(self, event: RunStarted) -> None:
        record = event.record
        plan, rate = _plan_of(event)
        run = _Run(
            record_run_id=record.run_id,
            name=record.name,
            phase=record.phase,
            zone=record.zone,
            scope=str(record.scope),
            status=str(record.status),
            started_at=record.started_at,
            plan=plan,
            embodied_g_per_s=rate,
            operational_g=None if plan is None else 0.0,
            embodied_g=None if rate is None else 0.0,
        )
        with self._lock:
            host = record.host or {}
            self._host_id = str(host.get("machine_id") or host.get("hostname") or "") or None
            self._host_name = str(host.get("hostname") or "") or None
            for device in event.devices:
                self._devices.setdefault(device.device_id, _Device(device))
            self._runs[record.run_id] = run
            self._evict()

    def on_samples(self, run_id: str, samples: Sequence[Sample]) -> None:
        with self._lock:
            run = self._runs.get(run_id)
            for sample in samples:
                self._count_host(sample)
                if run is None or sample.energy_j is None:
                    continue
                run.energy_j[sample.device_id] = (
                    run.energy_j.get(sample.device_id, 0.0) + sample.energy_j
                )
                if run.plan is not None and run.operational_g is not None:
                    carbon = run.plan.grams(sample)
                    if carbon is not None:
                        run.operational_g += carbon.g
                if run.embodied_g_per_s is not None:
                    elapsed = max(0.0, sample.t_end - run.started_at)
                    run.embodied_g = max(run.embodied_g or 0.0, run.embodied_g_per_s * elapsed)

    def on_stopping(self, event: RunStopping) -> None:
        with self._lock:
            run = self._runs.get(event.run_id)
            if run is not None:
                run.status = str(event.status)

    def on_end(self, event: RunEnded) -> None:
        with self._lock:
            run = self._runs.get(event.run_id)
            if run is None:
                return
            run.status = str(event.status)
            run.footprint = event.footprint
            run.ended = True

    def _count_host(self, sample: Sample) -> None:
        device = self._devices.get(sample.device_id)
        if device is None or sample.host_energy_j is None:
            return
        start, end = sample.t_start, sample.t_end
        seen = device.covered_until
        if seen is None or start >= seen:
            device.host_energy_j += sample.host_energy_j
        elif end > seen and end > start:
            device.host_energy_j += sample.host_energy_j * (end - seen) / (end - start)
        device.covered_until = end if seen is None else max(seen, end)

    def _evict(self) -> None:
        while len(self._runs) > self.max_runs:
            ended = next((rid for rid, run in self._runs.items() if run.ended), None)
            victim = ended if ended is not None else next(iter(self._runs))
            del self._runs[victim]

    # -- reading -----------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        with self._lock:
            runs = tuple(run.view() for run in self._runs.values())
            devices = tuple(
                DeviceView(
                    device_id=d.info.device_id,
                    component=str(d.info.component),
                    name=d.info.name,
                    method=str(d.info.method),
                    host_energy_j=None if d.covered_until is None else d.host_energy_j,
                )
                for d in self._devices.values()
            )
            return Snapshot(runs, devices, self._host_id, self._host_name)
