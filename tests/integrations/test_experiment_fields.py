"""What MLflow and W&B receive from a footprint (pure functions, no tracker library)."""

from __future__ import annotations

import sys
from dataclasses import replace

import pytest
from tests.report.factories import HOSTILE, footprint

from carbonledger.errors import ConfigError
from carbonledger.integrations._experiment import footprint_metrics, footprint_tags, span_steps
from carbonledger.lifecycle.footprint import SpanFootprint


def test_metrics_carry_intervals_and_leave_unknowns_out() -> None:
    fp = footprint(span_names=("epoch-1", "epoch-2"))
    m = footprint_metrics(fp)
    assert fp.energy_j is not None and fp.total_g is not None
    assert m["carbonledger/energy_j"] == fp.energy_j
    assert m["carbonledger/emissions_g"] == fp.total_g
    if fp.total_interval_g is not None:
        assert m["carbonledger/emissions_g_low"] == fp.total_interval_g[0]
    assert m["carbonledger/gpu_energy_j"] > 0 and m["carbonledger/ram_energy_j"] > 0
    unknown = footprint(energy_j=None, operational_g=None)
    m = footprint_metrics(unknown, prefix="x")
    assert "x/energy_j" not in m and "x/operational_g" not in m and "x/emissions_g" not in m
    assert all(key.startswith("x/") for key in m)


def test_one_step_per_top_level_span_in_start_order() -> None:
    fp = footprint(span_names=())
    spans = (
        SpanFootprint("eval", "2024-03-01T09:00:00Z", "2024-03-01T09:10:00Z", 5.0, 1.0),
        SpanFootprint("train", "2024-03-01T08:00:00Z", "2024-03-01T08:50:00Z", 50.0, None),
        SpanFootprint("train/batch", "2024-03-01T08:00:00Z", "2024-03-01T08:01:00Z", 1.0, 0.1),
    )
    steps = span_steps(replace(fp, spans=spans))
    assert [(s.step, s.path) for s in steps] == [(0, "train"), (1, "eval")]
    assert steps[0].metrics == {"carbonledger/span_energy_j": 50.0}  # unknown grams left out
    assert steps[1].metrics["carbonledger/span_emissions_g"] == 1.0


def test_tags_name_methods_and_sources_as_clean_text() -> None:
    fp = footprint(name=HOSTILE)
    fp = replace(fp, warnings=("line one\nline two\x1b[31m",))
    tags = footprint_tags(fp)
    assert tags["carbonledger.cpu.method"] == "measured"
    assert tags["carbonledger.ram.method"] == "modeled"
    assert tags["carbonledger.gpu.source"] == "nvml:GPU-0000; nvml:GPU-0001"
    assert tags["carbonledger.zone"] == "FR"
    assert "\n" not in tags["carbonledger.warnings"] and "\x1b" not in tags["carbonledger.warnings"]
    assert tags["carbonledger.name"] == HOSTILE  # text, escaped by the tracker's UI
    assert all(value for value in tags.values())  # nothing empty


@pytest.mark.parametrize(
    ("module", "factory", "extra"),
    [
        ("carbonledger.integrations.mlflow", "MlflowSink", "mlflow"),
        ("carbonledger.integrations.wandb", "WandbSink", "wandb"),
        ("carbonledger.exporters.prometheus", "PrometheusExporter", "prometheus"),
        ("carbonledger.exporters.otel", "OtelExporter", "otel"),
    ],
)
def test_a_missing_library_names_the_extra(
    module: str, factory: str, extra: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    for name in ("mlflow", "wandb", "prometheus_client", "opentelemetry.metrics"):
        monkeypatch.setitem(sys.modules, name, None)  # import raises ImportError
    cls = getattr(importlib.import_module(module), factory)
    with pytest.raises(ConfigError, match=rf"pip install 'carbonledger\[{extra}\]'"):
        cls()
