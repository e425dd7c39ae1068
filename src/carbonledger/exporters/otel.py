"""OpenTelemetry metrics following the hardware semantic conventions, plus carbonledger's
own names for what the conventions do not cover (a run's share, emissions).

Observable counters, cumulative, read at collection time::

    hw.energy               J  per device: hw.id (device id), hw.type (cpu|gpu|memory|other),
                               hw.name, carbonledger.method (measured|modeled)
    hw.host.energy          J  the host: hw.id (hashed machine id, else hostname), hw.name;
                               the devices' energy together (reported under its own name,
                               as the conventions ask, so it is never summed with hw.energy)
    carbonledger.energy     J  a run's attributed energy per device: carbonledger.run.id,
                               carbonledger.run.name, hw.id, hw.type
    carbonledger.emissions  g  a run's emissions so far: carbonledger.run.id,
                               carbonledger.run.name, carbonledger.emissions.part
                               (operational|embodied)

``hw.energy`` and ``hw.host.energy`` count what the sensors saw while runs measured them,
once however many runs overlap. ``hw.host.energy`` covers the devices carbonledger reads
(CPU packages, DRAM, GPUs, or their models): a lower bound of the wall-plug energy. The
hardware conventions are at stability "development" upstream. ``opentelemetry-api`` is
imported only when an exporter is made (``pip install 'carbonledger[otel]'``).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from carbonledger.errors import ConfigError
from carbonledger.events import BaseSink, RunEnded, RunStarted, RunStopping
from carbonledger.exporters._live import DEFAULT_MAX_RUNS, LiveTotals
from carbonledger.records import Sample

__all__ = ["HW_TYPES", "OtelExporter", "shared_exporter"]

HW_TYPES = {"cpu": "cpu", "gpu": "gpu", "ram": "memory", "other": "other"}


def _metrics_api() -> Any:
    try:
        return importlib.import_module("opentelemetry.metrics")
    except ImportError:
        raise ConfigError(
            "the OpenTelemetry exporter needs opentelemetry-sdk: pip install 'carbonledger[otel]'"
        ) from None


class OtelExporter(BaseSink):
    """Run events to OpenTelemetry metrics: ``cl.track(..., sinks=[OtelExporter()])``.

    ``meter_provider`` defaults to the global one (``opentelemetry.metrics``); the
    instruments are observable, so values are read when the provider's readers collect.
    At most ``max_runs`` runs are kept (the oldest ended run goes first).
    """

    name = "otel"

    def __init__(self, meter_provider: Any = None, *, max_runs: int = DEFAULT_MAX_RUNS) -> None:
        api = _metrics_api()
        from carbonledger import __version__

        provider = meter_provider if meter_provider is not None else api.get_meter_provider()
        meter = provider.get_meter("carbonledger", __version__)
        self._api = api
        self.totals = LiveTotals(max_runs=max_runs)
        meter.create_observable_counter(
            "hw.energy",
            callbacks=[self._hw_energy],
            unit="J",
            description="Energy consumed by the component",
        )
        meter.create_observable_counter(
            "hw.host.energy",
            callbacks=[self._host_energy],
            unit="J",
            description="Energy consumed by the host's measured devices "
            "(a lower bound of the whole host)",
        )
        meter.create_observable_counter(
            "carbonledger.energy",
            callbacks=[self._run_energy],
            unit="J",
            description="Energy attributed to a run, per device",
        )
        meter.create_observable_counter(
            "carbonledger.emissions",
            callbacks=[self._run_emissions],
            unit="g",
            description="A run's emissions so far in grams CO2e (zone average intensity)",
        )

    # -- callbacks (read at collection) --------------------------------------------------
    def _hw_energy(self, _options: Any) -> Iterator[Any]:
        for d in self.totals.snapshot().devices:
            if d.host_energy_j is not None:
                yield self._api.Observation(
                    d.host_energy_j,
                    {
                        "hw.id": d.device_id,
                        "hw.type": HW_TYPES.get(d.component, "other"),
                        "hw.name": d.name,
                        "carbonledger.method": d.method,
                    },
                )

    def _host_energy(self, _options: Any) -> Iterator[Any]:
        snap = self.totals.snapshot()
        total = snap.host_energy_j
        if total is not None:
            attrs = {"hw.id": snap.host_id or "host"}
            if snap.host_name:
                attrs["hw.name"] = snap.host_name
            yield self._api.Observation(total, attrs)

    def _run_energy(self, _options: Any) -> Iterator[Any]:
        snap = self.totals.snapshot()
        types = {d.device_id: HW_TYPES.get(d.component, "other") for d in snap.devices}
        for run in snap.runs:
            for device_id, joules in sorted(run.energy_j.items()):
                yield self._api.Observation(
                    joules,
                    {
                        "carbonledger.run.id": run.run_id,
                        "carbonledger.run.name": run.name,
                        "hw.id": device_id,
                        "hw.type": types.get(device_id, "other"),
                    },
                )

    def _run_emissions(self, _options: Any) -> Iterator[Any]:
        for run in self.totals.snapshot().runs:
            for part, grams in (("operational", run.operational_g), ("embodied", run.embodied_g)):
                if grams is not None:
                    yield self._api.Observation(
                        grams,
                        {
                            "carbonledger.run.id": run.run_id,
                            "carbonledger.run.name": run.name,
                            "carbonledger.emissions.part": part,
                        },
                    )

    # -- run events -----------------------------------------------------------------------
    def on_start(self, event: RunStarted) -> None:
        self.totals.on_start(event)

    def on_samples(self, run_id: str, samples: Sequence[Sample]) -> None:
        self.totals.on_samples(run_id, samples)

    def on_stopping(self, event: RunStopping) -> None:
        self.totals.on_stopping(event)

    def on_end(self, event: RunEnded) -> None:
        self.totals.on_end(event)


_SHARED: OtelExporter | None = None
_SHARED_LOCK = threading.Lock()


def shared_exporter() -> OtelExporter:
    """The process's exporter on the global meter provider, made on first use: what
    ``sinks=["otel"]`` gives (instruments are registered once per meter)."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = OtelExporter()
        return _SHARED
