"""OpenTelemetry metrics read back with the SDK's InMemoryMetricReader."""

from __future__ import annotations

from typing import Any

import pytest
from tests.engines import require_module

import carbonledger as cl
from carbonledger.records import Component, Method
from carbonledger.sensors.fake import FakeSensor, fake_device


def _points(reader: Any) -> dict[str, tuple[Any, list[Any]]]:
    """metric name -> (metric, its data points)."""
    found: dict[str, tuple[Any, list[Any]]] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                found[metric.name] = (metric, list(metric.data.data_points))
    return found


def test_hardware_conventions_and_own_names() -> None:
    require_module("opentelemetry.sdk")
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader

    from carbonledger.exporters.otel import OtelExporter

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    devices = [
        fake_device("fake:cpu-0"),
        fake_device("fake:gpu-0", Component.GPU),
        fake_device("model:ram", Component.RAM, Method.MODELED),
    ]
    sensors = [FakeSensor(devices, {"fake:cpu-0": 40.0, "fake:gpu-0": 200.0, "model:ram": 5.0})]
    exporter = OtelExporter(provider)
    with cl.track("otel", zone="FR", interval=0.05, sensors=sensors, sinks=[exporter]) as run:
        run.end_span(run.begin_span("step"))
    found = _points(reader)
    assert set(found) == {
        "hw.energy",
        "hw.host.energy",
        "carbonledger.energy",
        "carbonledger.emissions",
    }
    for name, (metric, points) in found.items():
        assert metric.unit == ("g" if name == "carbonledger.emissions" else "J")
        assert metric.data.is_monotonic
        assert metric.data.aggregation_temporality is AggregationTemporality.CUMULATIVE
        assert points and all(p.value >= 0 for p in points)
    _, hw = found["hw.energy"]
    types = {p.attributes["hw.id"]: p.attributes["hw.type"] for p in hw}
    assert types == {"fake:cpu-0": "cpu", "fake:gpu-0": "gpu", "model:ram": "memory"}
    assert {p.attributes["carbonledger.method"] for p in hw} == {"measured", "modeled"}
    (host,) = found["hw.host.energy"][1]
    assert (
        "hw.type" not in host.attributes
    )  # the host is its own metric, never summed with hw.energy
    assert host.value == pytest.approx(sum(p.value for p in hw))
    _, attributed = found["carbonledger.energy"]
    assert {p.attributes["carbonledger.run.id"] for p in attributed} == {run.run_id}
    fp = run.footprint()
    assert fp is not None and fp.energy_j is not None
    assert sum(p.value for p in attributed) == pytest.approx(fp.energy_j, rel=1e-6)
    _, grams = found["carbonledger.emissions"]
    parts = {p.attributes["carbonledger.emissions.part"]: p.value for p in grams}
    assert set(parts) == {"operational", "embodied"} and parts["operational"] > 0
    # operational grams so far, priced at FR's average as the footprint prices this run
    assert fp.operational_g is not None
    assert parts["operational"] == pytest.approx(fp.operational_g, rel=1e-6)


def test_exporter_by_name_uses_the_global_provider() -> None:
    require_module("opentelemetry.sdk")
    from carbonledger import plugins
    from carbonledger.exporters.otel import OtelExporter, shared_exporter

    factory = plugins.load("carbonledger.exporters", "otel")
    assert factory is shared_exporter
    for name in ("first", "second"):  # one set of instruments for the process
        sensors = [FakeSensor([fake_device()], {})]
        with cl.track(name, interval=0.05, sensors=sensors, sinks=["otel"]):
            pass
    exporter = factory()
    assert isinstance(exporter, OtelExporter)
    assert [r.name for r in exporter.totals.snapshot().runs] == ["first", "second"]
